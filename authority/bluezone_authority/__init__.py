"""bluezone-authority: what a health authority runs, as its own distribution.

The key server (:mod:`.server`), the staff portal (:mod:`.portal`), the
``bluezone serve`` and ``bluezone authority ...`` commands (:mod:`.cli`),
the offline tools for sealed declarations (:mod:`.declarations`), the
in-process ``loopback`` transport (:mod:`.loopback`) and the helpers other
distributions' tests start servers with (``server.testing``,
``server.process``, ``portal.testing``).

It plugs into the core like any plugin, through the ``bluezone`` entry-point
group; the core (``bluezone``, what a phone needs) never imports it.
"""
