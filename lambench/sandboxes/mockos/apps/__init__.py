"""The mock OS's apps, one module each: the app's state operations (a base class of the World, its methods
declared as API tools) and its window (the controls the agent sees and the handlers behind them)."""

from lambench.sandboxes.mockos.apps.calendar import CalendarWindow
from lambench.sandboxes.mockos.apps.files import FilesWindow
from lambench.sandboxes.mockos.apps.mail import MailWindow
from lambench.sandboxes.mockos.apps.settings import SettingsWindow
from lambench.sandboxes.mockos.apps.writer import WriterWindow

WINDOWS = (FilesWindow, WriterWindow, MailWindow, CalendarWindow, SettingsWindow)
"""Each app's window class, in taskbar order."""

__all__ = ["WINDOWS", "CalendarWindow", "FilesWindow", "MailWindow", "SettingsWindow", "WriterWindow"]
