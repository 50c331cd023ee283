"""The exceptions of the client.

Two families, following the protocol's error kinds (docs/protocol.md, "Requests and replies"):

- :class:`VssError` for ``kind: "hresult"``: the simulated service answered a call with a
  failing HRESULT. Each failure code has its own subclass, named after the code
  (``VSS_E_BAD_STATE`` -> :class:`VssBadState`, ``E_INVALIDARG`` -> ``EInvalidArg``), so
  ``except VssBadState:`` reads like the C++ ``if (hr == VSS_E_BAD_STATE)``. Look a class up by
  name with :func:`error_class`.
- :class:`ProtocolError` for every other kind (``parse``, ``bad_request``, ``no_object``,
  ``state``, ...): the request itself was wrong, not the VSS call.
"""

from .hresults import CODES, HRESULTS, NAMES, is_success

__all__ = [
    "VssSimError",
    "VssError",
    "ProtocolError",
    "ConnectionClosed",
    "WriterHandlerError",
    "BinaryNotFound",
    "error_class",
    "raise_for_hresult",
]


class VssSimError(Exception):
    """Base of every exception this package raises."""


class VssError(VssSimError):
    """A failing HRESULT returned by the simulated VSS service.

    Attributes:
        hresult: the code's name, e.g. ``"VSS_E_BAD_STATE"``.
        code: its value as an int, e.g. ``0x80042301``.
        message: the server's message (may be empty).
        op: the protocol op whose call failed, when known.
    """

    #: The HRESULT name a subclass stands for (``None`` on the base class).
    HRESULT = None

    def __init__(self, hresult, code=None, message="", op=None):
        self.hresult = hresult
        if code is None:
            code = CODES.get(hresult)
        elif isinstance(code, str):
            code = int(code, 16)
        self.code = code
        self.message = message
        self.op = op
        text = hresult if code is None else "%s (0x%08X)" % (hresult, code)
        if op:
            text = "%s: %s" % (op, text)
        if message:
            text = "%s: %s" % (text, message)
        super().__init__(text)

    @staticmethod
    def of(hresult, code=None, message="", op=None):
        """The exception for ``hresult``, as an instance of its own subclass."""
        return error_class(hresult)(hresult, code=code, message=message, op=op)


class ProtocolError(VssSimError):
    """A request refused for a reason other than an HRESULT.

    Attributes:
        kind: the error kind (``"parse"``, ``"version"``, ``"unknown_op"``, ``"bad_request"``,
            ``"too_large"``, ``"no_object"``, ``"no_async"``, ``"state"``, ``"ended"``), or
            ``"client"`` for a problem this client found in what the server sent.
        field: the argument at fault for ``bad_request`` (else ``None``).
        message: the server's message.
        op: the op of the refused request, when known.
        error: the whole ``error`` object of the reply.
    """

    def __init__(self, kind, message="", field=None, op=None, error=None):
        self.kind = kind
        self.field = field
        self.message = message
        self.op = op
        self.error = error or {}
        text = kind
        if field:
            text += " (field %r)" % field
        if op:
            text = "%s: %s" % (op, text)
        if message:
            text += ": " + message
        super().__init__(text)


class ConnectionClosed(VssSimError, ConnectionError):
    """The server closed the connection (or it broke) while a reply was awaited."""


class WriterHandlerError(VssSimError):
    """A writer handler raised; the event was answered with a failure, then this is raised.

    The original exception is ``__cause__``; ``event`` is the :class:`~vss_sim.WriterEvent`.
    """

    def __init__(self, event, exc):
        self.event = event
        super().__init__("%s raised in %s: %r" % (event.writer, event.name, exc))


class BinaryNotFound(VssSimError, FileNotFoundError):
    """The ``vss-sim`` binary could not be found."""


def _class_name(name, variant):
    if name.startswith("VSS_"):
        return variant if variant.startswith("Vss") else "Vss" + variant
    return "E" + variant


_CLASSES = {}
for _name, _code, _variant in HRESULTS:
    if is_success(_name):
        continue
    _cls = type(
        _class_name(_name, _variant),
        (VssError,),
        {
            "HRESULT": _name,
            "__doc__": "The HRESULT %s (0x%08X)." % (_name, _code),
            "__module__": __name__,
        },
    )
    _CLASSES[_name] = _cls
    globals()[_cls.__name__] = _cls
    __all__.append(_cls.__name__)
del _name, _code, _variant, _cls


def error_class(hresult):
    """The :class:`VssError` subclass of the failure named ``hresult`` (or of its int value).

    An unknown name gives :class:`VssError` itself.
    """
    if isinstance(hresult, int):
        hresult = NAMES.get(hresult, "")
    return _CLASSES.get(hresult, VssError)


def raise_for_hresult(hresult, op=None, message=""):
    """Raise the :class:`VssError` of ``hresult`` if it is a failure; else return it."""
    if hresult in CODES and is_success(hresult):
        return hresult
    raise VssError.of(hresult, message=message, op=op)
