"""fediverse-pasture's verify_actor app served on one loopback address (its CLI binds 0.0.0.0)."""

# Runs inside the pasture venv (.peers/pasture), with a scratch directory as working directory
# (pasture writes its test actors' keys to ./data.toml):
#   .peers/pasture/bin/python deploy/peers/pasture_app.py --host 127.0.0.7 --port 2909
# Then GET /?actor_uri=<url> with "Accept: application/json" runs the six test actors against
# <url> and answers {"result": {"alice": {"get_actor": .., "post_inbox": ..}, ..., "webfinger": ..}}.
import argparse
import logging
import sys

import uvicorn
from fediverse_pasture.verify_actor import build_app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.7")
    parser.add_argument("--port", type=int, default=2909)
    parser.add_argument("--timeout", type=float, default=10, help="per request, in seconds")
    args = parser.parse_args()
    if not args.host.startswith("127."):
        print(f"refusing to bind {args.host}: loopback tests only", file=sys.stderr)
        return 2
    # verify_actor turns DEBUG logging on for everything at import time.
    logging.getLogger().setLevel(logging.INFO)
    # The test actors live at http://<host>:<port>/<name>; https=False keeps their ids on http.
    app = build_app(False, f"{args.host}:{args.port}", False, args.timeout)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
