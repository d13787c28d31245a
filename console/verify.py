"""The page a certificate's QR code opens: anyone (a school, an employer, a credit scheme) confirms it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from console import web
from volunteers.services import certificates


class VerifyController(Controller):
    path = "/verify"

    @get("/{serial:str}")
    async def verify(
        self,
        request: Request[Any, Any, Any],
        serial: FromPath[str],
        code: Annotated[str, QueryParameter(max_length=40)] = "",
    ) -> Template:
        """The same answer as GET /api/v1/public/certificates/{serial}: a wrong code is the unknown serial's 404."""
        answer = await certificates.verify(serial=serial, check_code=code)
        return web.page(request, "public/verify.html", viewer=await web.viewer_or_none(request), answer=answer)
