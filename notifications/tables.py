from piccolo.columns import JSONB, UUID, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table


class Notification(Table, tablename="notifications"):
    id = UUID(primary_key=True)
    user_id = UUID(null=False, index=True)
    kind = Varchar(length=60, null=False)
    title = Varchar(length=200, null=False)
    body = Text(null=False, default="")
    data = JSONB(null=False, default="{}")
    # What caused it (e.g. an outbox event): the same source never notifies the same user twice.
    source_key = Varchar(length=200, null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    read_at = Timestamptz(null=True, default=None)
    unique_user_source = Unique([user_id, source_key])
