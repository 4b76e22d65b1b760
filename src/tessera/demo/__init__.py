"""The demo: the authorization server, a protected API and a client web app, wired together by ``tessera demo``.

- :mod:`tessera.demo.client_app`: the web application people log in to; :mod:`tessera.demo.remote`, what it
  sends to the server and the API (Authlib's Flask client).
- :mod:`tessera.demo.api`: the resource API it calls (``tessera.resource.flask``, validating by introspection).
- :mod:`tessera.demo.provision`: the fresh database with the user ``demo`` (password ``demo``, created without
  the password policy, which would refuse it) and the two clients.
- :mod:`tessera.demo.servers` and :mod:`tessera.demo.run`: the three servers in one process, and the command.

The client app and the API speak to the authorization server only over HTTP, as separate services would;
an import-linter contract keeps them from reaching into the server or the database.
"""
