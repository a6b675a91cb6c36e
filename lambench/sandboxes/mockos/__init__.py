"""The mock OS: an in-process desktop with five apps (Files, Writer, Mail, Calendar, Settings), GUI and API.

- :mod:`.core`: the world's vocabulary (ToolError, paths, nodes); :mod:`.tools`: ``@tool`` and the checked call;
- :mod:`.world`: the World (state + every app's operations) and the API tool table derived from its methods;
- :mod:`.apps`: one module per app, its operations and its window; :mod:`.view`: controls, the window model
  the apps share, the observation; :mod:`.perturb`: the perturbation mechanics;
- :mod:`.initial`: the seeded default world, a task's setup and injection; :mod:`.desktop`: the sandbox;
  :mod:`.equivalence`: actions with the same effect (for recorded datasets).
"""

from lambench.sandboxes.mockos.apps.settings import SETTING_KEYS
from lambench.sandboxes.mockos.core import HOME, ToolError, node_text, norm_path
from lambench.sandboxes.mockos.desktop import MockOS
from lambench.sandboxes.mockos.equivalence import equivalent_actions
from lambench.sandboxes.mockos.initial import build_state, default_state, plant_injection
from lambench.sandboxes.mockos.view import PAGE, Control
from lambench.sandboxes.mockos.world import API, World, api_tool_definitions

__all__ = ["API", "HOME", "PAGE", "SETTING_KEYS", "Control", "MockOS", "ToolError", "World", "api_tool_definitions",
           "build_state", "default_state", "equivalent_actions", "node_text", "norm_path", "plant_injection"]
