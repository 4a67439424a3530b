"""What several command families share, each in its own file; re-exported here
for code written against the old single file."""

from ..interfaces import ModuleContext
from .auth import AuthCommand, Authenticate
from .para import ParaCommand
from .received import Received
from .replies import last_line, ok_reply

__all__ = ["AuthCommand", "Authenticate", "ModuleContext", "ParaCommand", "Received", "last_line", "ok_reply"]
