from piccolo.columns import UUID, Array, ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Check, Unique
from piccolo.table import Table

from linli.tables import User


class Community(Table, tablename="communities"):
    id = UUID(primary_key=True)
    name = Varchar(length=100, null=False)
    # IANA zone; slots and availability are entered in this local time.
    timezone = Varchar(length=64, null=False, default="Asia/Shanghai")
    street = Varchar(length=100, null=False, default="")
    created_at = Timestamptz(default=TimestamptzNow(), null=False)


class Membership(Table, tablename="community_memberships"):
    id = UUID(primary_key=True)
    community_id = ForeignKey(Community, null=False, on_delete=OnDelete.restrict, index=True)
    user_id = ForeignKey(User, null=False, on_delete=OnDelete.restrict, index=True)
    role = Varchar(length=20, null=False)
    granted_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_member_role = Unique([community_id, user_id, role])
    valid_role = Check("role IN ('resident', 'staff', 'admin')")


class Grid(Table, tablename="community_grids"):
    """A 网格: the block of households one grid worker looks after."""

    id = UUID(primary_key=True)
    community_id = ForeignKey(Community, null=False, on_delete=OnDelete.restrict, index=True)
    name = Varchar(length=100, null=False)
    description = Text(null=False, default="")
    worker_user_id = ForeignKey(User, null=True, default=None, on_delete=OnDelete.restrict)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_grid_name = Unique([community_id, name])


class Resident(Table, tablename="community_residents"):
    """A resident's standing in one community: priority groups (subsidies) and home grid."""

    id = UUID(primary_key=True)
    community_id = ForeignKey(Community, null=False, on_delete=OnDelete.restrict, index=True)
    user_id = ForeignKey(User, null=False, on_delete=OnDelete.restrict, index=True)
    priority_groups = Array(Varchar(length=30), null=False, default=list)
    grid_id = ForeignKey(Grid, null=True, default=None, on_delete=OnDelete.restrict)
    updated_by = UUID(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_resident = Unique([community_id, user_id])
