"""`python -m gateway`: serve the gateway."""

import gc

from gateway.config import Settings
from gateway.main import connection_protocol, create_app
from servir_runtime.server import serve

GC_THRESHOLD = 7000

if __name__ == "__main__":
    settings = Settings()
    app = create_app(settings)
    # What is built by now (modules, the apps, their routes) lives as long as the process:
    # frozen, the collector stops walking it on every full collection (about a tenth of the
    # gateway's CPU under load without this).
    gc.collect()
    gc.freeze()
    # A request allocates a few hundred objects, nearly all freed by reference counting; at
    # the default threshold (700) the collector runs every few requests and walks the state
    # of every request in flight each time. Ten times rarer, it costs a fraction of that.
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    serve(app, settings, http=connection_protocol(settings))
