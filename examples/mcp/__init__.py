"""An MCP server protected by Tessera (see server.py; needs the ``mcp`` extra)."""
