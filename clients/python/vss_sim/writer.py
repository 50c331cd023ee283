"""Writers implemented in Python: :class:`CVssWriter`, :class:`Answer`, :class:`WriterEvent`.

A writer is an object whose ``On...`` methods the connection calls when the service sends it an
event (``writer_event`` in docs/protocol.md). The simulated world stands still at the event's
instant until the handler's answer is sent, so the handler may take as long as it likes in wall
time; what counts is the virtual time it *says* it took (:attr:`Answer.after_us`).
"""

import dataclasses

__all__ = ["Answer", "WriterEvent", "CVssWriter", "EVENT_NAMES"]

#: The events a client writer can be sent (``OnIdentify`` is answered from the registration).
EVENT_NAMES = (
    "OnPrepareBackup",
    "OnPrepareSnapshot",
    "OnFreeze",
    "OnThaw",
    "OnPostSnapshot",
    "OnAbort",
    "OnBackupComplete",
    "OnBackupShutdown",
    "OnPreRestore",
    "OnPostRestore",
)

DEFAULT_FAILURE = "VSS_E_WRITERERROR_NONRETRYABLE"


@dataclasses.dataclass
class Answer:
    """What a handler answers, when ``True``/``False`` is not enough.

    Attributes:
        result: ``"S_OK"`` or a failure to set (``"VSS_E_WRITERERROR_RETRYABLE"``, ...).
            ``None`` means: the failure set with :meth:`CVssWriter.SetWriterFailure`, if any,
            else ``S_OK``.
        after_us: how long the handler ran, in virtual microseconds (default 0).
        hang: the handler never returns; the service's time limits fire (rules 7, 11).
        application: ``"freeze"`` (in OnFreeze) freezes the scenario workloads naming this
            writer; ``"thaw"`` lets them write again.
    """

    result: "str | None" = None
    after_us: int = 0
    hang: bool = False
    application: "str | None" = None

    def to_args(self):
        """The ``answer`` request's arguments (without writer and token)."""
        args = {"result": self.result or "S_OK"}
        if self.hang:
            args["hang"] = True
        else:
            args["after_us"] = int(self.after_us)
        if self.application is not None:
            args["application"] = self.application
        return args


@dataclasses.dataclass
class WriterEvent:
    """One ``writer_event`` message, as the handler sees it (``writer.current_event``)."""

    writer: str
    token: object
    name: str
    now_us: int
    volumes: list
    components: list
    raw: dict

    @classmethod
    def from_message(cls, msg):
        """Build from the decoded JSON message."""
        return cls(
            writer=msg.get("writer"),
            token=msg.get("token"),
            name=msg.get("name"),
            now_us=msg.get("now_us"),
            volumes=list(msg.get("volumes") or []),
            components=list(msg.get("components") or []),
            raw=msg,
        )


class CVssWriter:
    """Base class of a writer implemented by the client, after the VSS ``CVssWriter``.

    Override the handlers you need; each returns ``True`` (success, 0 µs), ``False`` (failure)
    or an :class:`Answer`. ``None`` counts as ``True``. As in VSS (rule 32 of docs/rules.md):

    - ``False`` without a failure set fails the event with ``VSS_E_WRITERERROR_NONRETRYABLE``;
    - a failure set with :meth:`SetWriterFailure` fails the event whatever the handler returns
      (``True`` included), unless an :class:`Answer` names another ``result`` explicitly;
    - the failure set is forgotten when the next event starts.

    A handler that raises answers its event as ``False`` would, and the connection raises
    :class:`~vss_sim.WriterHandlerError` once the request it was serving has its reply.

    While a handler runs, ``self.current_event`` is the :class:`WriterEvent`;
    ``self.events`` lists every event name received, in order; after registration
    ``self.name``, ``self.instance_id``, ``self.class_id`` and ``self.connection`` are set.

    Register with ``conn.register_writer(writer, name, components=[...])`` before the world
    moves (before any call or time request on any connection).
    """

    def __init__(self):
        self.name = None
        self.instance_id = None
        self.class_id = None
        self.connection = None
        self.current_event = None
        self.events = []
        self._failure = None
        self._set_volumes = []
        self._set_components = []

    # -- the VSS-side helpers -------------------------------------------------------------

    def SetWriterFailure(self, hr):
        """Set the failure the current event reports (``"VSS_E_WRITERERROR_RETRYABLE"``, ...)."""
        self._failure = hr

    def GetCurrentVolumeArray(self):
        """The volumes of the snapshot set being made.

        The server sends them with ``OnPrepareSnapshot`` only (empty lists with the other
        events); as in VSS, they stay available for the later events of the creation
        (``OnFreeze``, ``OnThaw``, ``OnPostSnapshot``, ...)."""
        return list(self._set_volumes)

    def GetCurrentVolumeCount(self):
        """How many volumes :meth:`GetCurrentVolumeArray` holds."""
        return len(self.GetCurrentVolumeArray())

    def GetCurrentComponents(self):
        """The writer's components selected in the set being made (from ``OnPrepareSnapshot``)."""
        return list(self._set_components)

    # -- handlers (defaults: succeed at once) --------------------------------------------

    def OnIdentify(self):
        """Never called over the protocol: the registration's components answer Identify."""
        return True

    def OnPrepareBackup(self):
        """PrepareForBackup reached the writer."""
        return True

    def OnPrepareSnapshot(self):
        """PrepareForSnapshot: the set's volumes are known (``GetCurrentVolumeArray``)."""
        return True

    def OnFreeze(self):
        """Freeze: the freeze window (the writer's ``timeout_freeze_us``, 60 s) starts."""
        return True

    def OnThaw(self):
        """Thaw: the shadow copies are made."""
        return True

    def OnPostSnapshot(self):
        """PostSnapshot."""
        return True

    def OnAbort(self):
        """Abort."""
        return True

    def OnBackupComplete(self):
        """BackupComplete."""
        return True

    def OnBackupShutdown(self):
        """BackupShutdown: the requester's session ended (released or gone)."""
        return True

    def OnPreRestore(self):
        """PreRestore."""
        return True

    def OnPostRestore(self):
        """PostRestore."""
        return True

    # -- used by the connection ----------------------------------------------------------

    def _answer_for(self, event):
        """Run the handler of ``event``; return (Answer, exception or None)."""
        self.current_event = event
        self._failure = None
        if event.name == "OnPrepareSnapshot" or event.volumes:
            self._set_volumes = list(event.volumes)
            self._set_components = list(event.components)
        self.events.append(event.name)
        handler = getattr(self, event.name, None) if event.name in EVENT_NAMES else None
        exc = None
        try:
            ret = handler() if handler is not None else True
        except Exception as e:  # answered as a failure, re-raised by the connection
            ret, exc = False, e
        finally:
            self.current_event = None
        failure = self._failure
        if isinstance(ret, Answer):
            ans = dataclasses.replace(ret)
            if ans.result is None:
                ans.result = failure or "S_OK"
        elif ret is None or ret is True:
            ans = Answer(result=failure or "S_OK")
        elif ret is False:
            ans = Answer(result=failure or DEFAULT_FAILURE)
        else:
            raise TypeError(
                "%s.%s returned %r; expected True, False or an Answer"
                % (type(self).__name__, event.name, ret)
            )
        return ans, exc
