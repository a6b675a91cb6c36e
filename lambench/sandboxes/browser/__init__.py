"""The browser GUI sandbox: the web app's back office in a real Chromium (see :mod:`.sandbox`)."""
