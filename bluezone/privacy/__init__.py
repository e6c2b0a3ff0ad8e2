"""The citizen's rights and the deployment's paperwork.

* :mod:`.notice` — the ``[privacy]`` section and the processing notice
  ``bluezone privacy`` shows (purpose, data, recipients, retention,
  controller and contact);
* :mod:`.mydata` — everything the phone holds, readable (``bluezone my-data``);
* :mod:`.forget` — wipe the store and its key (``bluezone forget``);
* :mod:`.hosts` — configured addresses outside the country (``config check``).

Consent per purpose lives in :mod:`bluezone.consent`. See docs/privacy.md.
"""
