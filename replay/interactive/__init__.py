"""Stepping through a recording as a debugger does: the pdb-like prompt and the DAP server.

Both move a cursor forwards and backwards over the steps and show values with the views'
formatting; the prompt reads commands at a terminal (with Ctrl-C acted on at once), the
Debug Adapter Protocol server answers an editor over stdio or a loopback socket.
"""
