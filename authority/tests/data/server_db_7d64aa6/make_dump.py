import asyncio, sqlite3, sys, tempfile
from pathlib import Path
import bluezone_authority, bluezone
assert bluezone_authority.__file__.startswith("/tmp/oldsrc"), bluezone_authority.__file__
assert bluezone.__file__.startswith("/tmp/oldsrc"), bluezone.__file__
from bluezone_authority.server.testing import start, past_keys, NOW
from bluezone.transports import HttpTransport
from bluezone.upload import upload_with_code

async def main(tmp):
    r = await start(tmp)
    code = r.server.issue_code({"tier": "F0"})["code"]
    unused = r.server.issue_code({"tier": "F0"})["code"]
    async with HttpTransport(r.url, retries=0) as t:
        await upload_with_code(t, code, past_keys(3))
        await t.upload_declaration(b"\x07" * 96)
    r.server.export_now()
    async with HttpTransport(r.url, retries=0) as t:
        await upload_with_code(t, r.server.issue_code({"tier": "F0"})["code"], past_keys(2))  # pending, not exported
    await r.http.close()
    print(r.admin_token, file=sys.stderr)

tmp = Path(tempfile.mkdtemp())
asyncio.run(main(tmp))
conn = sqlite3.connect(tmp / "server.db")
out = open(sys.argv[1], "w")
for line in conn.iterdump():
    out.write(line + "\n")
