"""The authorization server's protocol core: the server context, Authlib wired to storage (grants, endpoints),
client registration, the machine routes' handlers, and the adapters that put them on HTTP (WSGI, RSGI). The pages
are :mod:`tessera.web`; :mod:`tessera.app` puts the two together."""
