from litestar import Controller, Request, post
from litestar.params import JSONBody

from linli import db
from linli.auth import services
from linli.auth.schemas import RegisterIn, TokenIn, TokenOut, UserOut


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/register", public=True, status_code=201)
    async def register(self, data: JSONBody[RegisterIn]) -> UserOut:
        async with db.unit_of_work():
            return await services.register(register_in=data)

    @post("/token", public=True, status_code=200)
    async def token(self, request: Request, data: JSONBody[TokenIn]) -> TokenOut:
        client_ip = request.client.host if request.client else "unknown"
        return await services.issue_token(phone=data.phone, password=data.password, client_ip=client_ip)
