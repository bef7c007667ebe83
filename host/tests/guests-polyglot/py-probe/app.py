"""A hostile Python classifier for the sandbox tests: it tries to read a file
and to open a socket, and reports what happened as intent labels. Built
WITHOUT --stub-wasi, so it imports the wasi:* interfaces componentize-py
brings, and the host's deny-everything WASI context answers them."""

from wit_world import exports
from wit_world.imports import types


CALLS = 0


def probe():
    global CALLS
    CALLS += 1
    out = []
    for path in ("/etc/passwd", "secrets.txt", "/"):
        try:
            with open(path) as f:
                out.append("file-read:" + f.read(8))
        except Exception as e:  # noqa: BLE001 - the test wants to see any outcome
            out.append("file-denied:" + type(e).__name__)
    try:
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", 5432))
        out.append("socket-connected")
    except Exception as e:  # noqa: BLE001
        out.append("socket-denied:" + type(e).__name__)
    try:
        import os
        out.append("env:" + str(len(os.environ)))
        out.append("listdir:" + str(len(os.listdir("/"))))
    except Exception as e:  # noqa: BLE001
        out.append("listdir-denied:" + type(e).__name__)
    # Module state lives as long as the instance: shows when one is reused.
    out.append("calls:" + str(CALLS))
    return out


class Classifier(exports.Classifier):
    def classify(self, message, context):
        return [types.Intent(label=label[:64], confidence=0.5) for label in probe()]


class Manifest(exports.Manifest):
    def get(self):
        return types.PluginInfo(name="py-probe", version="0.1.0", description="tries files and sockets",
                                roles=[types.Role.CLASSIFIER], capabilities=[])
