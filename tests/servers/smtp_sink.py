#!/usr/bin/env python3
"""Loopback SMTP sink for wrt's email notification tests: Debian's aiosmtpd
(a real SMTP server) on 127.0.0.1, a free port written to --port-file once
listening; every message received is appended to --log as one JSON line
(mail_from, rcpt_tos, content). Exits by itself after --lifetime seconds."""
import argparse
import asyncio
import json
import os

from aiosmtpd.smtp import SMTP

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--lifetime", type=float, default=300)
args = ap.parse_args()


class Sink:
    async def handle_DATA(self, server, session, envelope):
        with open(args.log, "a") as f:
            f.write(json.dumps({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                                "content": envelope.content.decode("utf-8", "replace")}) + "\n")
        return "250 Message accepted for delivery"


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Sink(), hostname="sink.test"), "127.0.0.1", 0)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    await asyncio.sleep(args.lifetime)
    server.close()


asyncio.run(main())
