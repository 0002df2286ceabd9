"""Stage 5: instantiate a checked graph as a running router.

``Router.build`` takes a configuration through the front end (parse,
elaborate, check), creates one element object per flat element, wires their
ports by the push/pull plan the check produced, then configures every element
(reporting every error, each with its landmark and Click's "While
configuring" context) and initializes them. ``run`` hands control to the
scheduler until the configuration stops.
"""
from __future__ import annotations

import fnmatch
import traceback

from clickpy import pipeline
from clickpy.errors import ConfigError, Diagnostic, Diagnostics, Landmark
from clickpy.graph.ports import PULL, PUSH
from clickpy.lang.confstring import split_args
from clickpy.runtime import registry
from clickpy.runtime.error_handler import ElementErrors
from clickpy.runtime.handlers import Handler, HandlerError, format_value, generic_handlers
from clickpy.runtime.notifier import SEARCH_CONTINUE_WAKE, SEARCH_STOP, NotifierSignal
from clickpy.runtime.pending import Pending
from clickpy.runtime.scheduler import Scheduler

VERSION = "2.1 (clickpy 0.1.0)"


def _context_diagnostic(landmark: Landmark, context: str, items, severity: str) -> Diagnostic:
    # Click prints the context line with the landmark and each message on
    # its own indented line beneath it.
    lines = []
    for kind, text in items:
        for i, line in enumerate(text.split("\n")):
            lines.append(("  warning: " if kind == "warning" and i == 0 else "  ") + line)
    return Diagnostic(landmark, context, severity, continuation=lines)


class Router:
    def __init__(self, graph, ports, *, simulated: bool = False, simtime_start: float = 0.0,
                 diagnostics: Diagnostics | None = None):
        self.graph = graph
        self.plans = ports
        self.diagnostics = diagnostics if diagnostics is not None else Diagnostics()
        self.scheduler = Scheduler(simulated, simtime_start)
        self.elements = []
        self._by_name: dict[str, object] = {}
        self._handlers: dict[int, dict[str, Handler]] = {}
        self._root_handlers: dict[str, Handler] = {}
        self._inputs: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._outputs: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self.initialized = False
        self._has_run = False
        self._cleaned = False
        self.stop_hooks = []  # callables(router) -> bool; True keeps the driver running
        self.hotswap_from = None  # the router this one replaces, while it is set up
        self.per_packet = False  # sources send bursts one packet at a time (exact Click order)
        self.attachments = {}  # per-router records elements share (Click's Router::attachment)
        self.scheduler.stop_hook = self._driver_stopped
        # What stands for a class clickpy lacks: nothing (building such a
        # graph is an error), or MissingClass where only configuring is wanted.
        self.missing_class = None

    # --- building ----------------------------------------------------------

    @classmethod
    def build(cls, source: pipeline.Source, definitions=None, *, simulated=False, simtime_start=0.0,
              extra_elements=(), hotswap_from=None, per_packet=False) -> "Router":
        """Parse, check, instantiate, configure and initialize; raise ConfigError on any error.

        ``extra_elements`` are (name, class name, config) triples added to the
        graph, as the click driver adds its ControlSocket elements.
        ``hotswap_from`` is the running router this one will replace: its
        elements can hand state over (see ``take_state_from``).
        """
        graph, ports, diagnostics = cls.check_source(source, definitions, extra_elements)
        router = cls(graph, ports, simulated=simulated, simtime_start=simtime_start, diagnostics=diagnostics)
        router.hotswap_from = hotswap_from
        router.per_packet = per_packet
        for _ in router.build_steps():
            pass
        return router

    @staticmethod
    def check_source(source: pipeline.Source, definitions=None, extra_elements=()):
        """The front end: the checked graph, its port plans and its diagnostics; ConfigError on any error."""
        from clickpy.graph.check import check
        from clickpy.graph.flatgraph import FlatElement

        result = pipeline.load(source, definitions, run_check=False)
        if not result.ok:
            raise ConfigError(result.diagnostics, stage="read")
        for name, class_name, config in extra_elements:
            result.graph.elements.append(FlatElement(name, class_name, config, Landmark(source.filename)))
        result.ports = check(result.graph, result.diagnostics)
        if not result.ok:
            read_error = any(x.category == "class" for x in result.diagnostics.errors)
            raise ConfigError(result.diagnostics, stage="read" if read_error else "initialize")
        return result.graph, result.ports, result.diagnostics

    def build_steps(self, initialize: bool = True):
        """Instantiate, configure and (unless told not to) initialize, one
        element per step; raises ConfigError at the end if anything failed.

        A caller that must keep a running router moving (a hot swap) runs the
        steps a few at a time between its batches.
        """
        yield from self._instantiate_steps()
        order = sorted(self.elements, key=lambda e: (getattr(type(e), "configure_phase", 100), e.eindex))
        ok = True
        for e in order:
            ok = self._configure_one(e) and ok
            yield
        if not ok:
            raise ConfigError(self.diagnostics, stage="initialize")
        if not initialize:
            return
        # Handlers exist before initialization: elements resolve each other's
        # handlers (END_CALL, Script) while initializing.
        yield from self._setup_handlers_steps()
        for e in order:
            if not self._initialize_one(e):
                self.cleanup()
                raise ConfigError(self.diagnostics, stage="initialize")
            yield
        self._setup_generic_task_handlers()
        self.initialized = True

    def take_state_from(self, old: "Router") -> None:
        """Hand state over from the router this one replaces, element by element.

        Elements with the same name and class take their predecessor's state
        (queued packets, counters, tables, sockets).
        """
        for e in self.elements:
            prev = old.element(e.name)
            if prev is not None and type(prev) is type(e):
                errh = ElementErrors()
                try:
                    e.take_state(prev, errh)
                except Exception as exc:
                    errh.error(f"internal error: {exc!r}")
                self._report(e, f"While taking state for '{e.declaration()}':", errh)

    def instantiate(self) -> None:
        for _ in self._instantiate_steps():
            pass

    def _instantiate_steps(self):
        classes = {}
        for i, fe in enumerate(self.graph.elements):
            cls = classes.get(fe.class_name)
            if cls is None:
                cls = classes[fe.class_name] = registry.lookup(fe.class_name) or self.missing_class
            e = cls()
            e.name = fe.name
            e.router = self
            e.eindex = i
            e.landmark = fe.landmark
            e.config = fe.config
            self.elements.append(e)
            self._by_name[fe.name] = e
            if i % 256 == 255:
                yield
        for f, fp, t, tp in self.graph.connections:
            self._outputs.setdefault((f, fp), []).append((t, tp))
            self._inputs.setdefault((t, tp), []).append((f, fp))
        for i, e in enumerate(self.elements):
            plan = self.plans[i]
            out_el, out_port, out_push = [], [], []
            for p, kind in enumerate(plan.outputs):
                peers = self._outputs.get((i, p), [])
                push = kind == PUSH
                if push and peers:
                    t, tp = peers[0]
                    out_el.append(self.elements[t])
                    out_port.append(tp)
                else:
                    out_el.append(None)
                    out_port.append(0)
                out_push.append(push)
            in_el, in_port, in_pull = [], [], []
            for p, kind in enumerate(plan.inputs):
                peers = self._inputs.get((i, p), [])
                pull = kind == PULL
                if pull and peers:
                    f, fp = peers[0]
                    in_el.append(self.elements[f])
                    in_port.append(fp)
                else:
                    in_el.append(None)
                    in_port.append(0)
                in_pull.append(pull)
            e.connect_ports(out_el, out_port, in_el, in_port, in_pull, out_push)
            if i % 256 == 255:
                yield

    def _report(self, e, context: str, errh: ElementErrors) -> None:
        if errh.items:
            severity = "error" if errh.nerrors else "note"
            self.diagnostics.items.append(_context_diagnostic(e.landmark, context, errh.items, severity))

    def _configure_one(self, e) -> bool:
        errh = ElementErrors()
        try:
            e.configure(split_args(e.config), errh)
        except MemoryError:
            errh.error("not enough memory for this configuration")
        except Exception as exc:  # a bug in an element must not hide other errors
            errh.error(f"internal error: {exc!r}\n{traceback.format_exc(limit=4)}")
        self._report(e, f"While configuring '{e.declaration()}':", errh)
        return not errh.nerrors

    def _initialize_one(self, e) -> bool:
        errh = ElementErrors()
        try:
            e.initialize(errh)
        except Exception as exc:
            errh.error(f"internal error: {exc!r}\n{traceback.format_exc(limit=4)}")
        self._report(e, f"While initializing '{e.declaration()}':", errh)
        return not errh.nerrors

    def cleanup(self) -> None:
        """Clean up every element, then release the driver's tasks and
        descriptors (once; later calls do nothing)."""
        if self._cleaned:
            return
        self._cleaned = True
        for e in reversed(self.elements):
            try:
                e.cleanup("initialized" if self.initialized else "configured")
            except Exception:
                traceback.print_exc()
        self.scheduler.clear_tasks()
        self.scheduler.close()

    # --- running -------------------------------------------------------------

    def run(self) -> None:
        """Run until stopped. A router that ran and stopped runs again when asked
        (a stop requested before its first run still holds)."""
        if self._has_run and self.scheduler.runcount <= 0:
            self.scheduler.set_runcount(1)
        self._has_run = True
        self.scheduler.run()

    def please_stop_driver(self) -> None:
        self.scheduler.please_stop()

    def stop(self) -> None:
        """Stop now (a signal, a hot swap). As in Click, a DriverManager still
        runs its remaining instructions before the driver ends."""
        self.scheduler.set_runcount(-(1 << 30))

    def _driver_stopped(self) -> bool:
        for hook in list(self.stop_hooks):
            if hook(self):
                return True
        return False

    def now(self) -> int:
        return self.scheduler.now()

    # --- elements and names ----------------------------------------------------

    def find(self, name: str, context=None):
        """Element named name, looked up relative to context's compound (Click's rule)."""
        if context is not None:
            prefix = context.name
            while "/" in prefix:
                prefix = prefix.rsplit("/", 1)[0]
                e = self._by_name.get(f"{prefix}/{name}")
                if e is not None:
                    return e
        return self._by_name.get(name)

    def element(self, name: str):
        return self._by_name.get(name)

    def input_connections(self, e, port: int):
        return [(self.elements[f], fp) for f, fp in self._inputs.get((e.eindex, port), [])]

    def output_connections(self, e, port: int):
        return [(self.elements[t], tp) for t, tp in self._outputs.get((e.eindex, port), [])]

    def address_info(self, name: str, kind: str, context=None):
        """What a name means as an address or port of kind, seen from context.

        Elements that define names (AddressInfo, PortInfo) answer through an
        ``address_for(name, kind, context)`` method; names of this host's
        network interfaces work without any.
        """
        for e in self.elements:
            lookup = getattr(e, "address_for", None)
            if lookup is not None:
                v = lookup(name, kind, context)
                if v is not None:
                    return v
        from clickpy.elements.standard.address_info import lookup_address

        return lookup_address(self, name, kind, context)

    # --- notifiers ---------------------------------------------------------------

    def upstream_empty_signal(self, e, port: int, task=None) -> NotifierSignal:
        """Combined 'has packets' signal of the queues feeding e's pull input port."""
        return self._notifier_search(e, port, task, "empty", upstream=True)

    def downstream_full_signal(self, e, port: int, task=None) -> NotifierSignal:
        """Combined 'has room' signal of the queues fed by e's push output port."""
        return self._notifier_search(e, port, task, "full", upstream=False)

    def _notifier_search(self, e, port, task, kind, upstream):
        """Click's notifier search, in two passes.

        The first pass stops at every notifier that does not let the search
        continue; what it finds makes the signal. When it met a notifier that
        continues only to wake (SEARCH_CONTINUE_WAKE), a second pass goes past
        it: the notifiers found there wake the listener but are not part of
        its signal.
        """
        found, busy, need_pass2 = self._notifier_pass(e, port, kind, upstream, past_wake=False)
        if busy:
            return NotifierSignal.busy_signal()
        if not found:
            return NotifierSignal.idle_signal()  # nothing upstream can ever send a packet
        wakers = list(found)
        if need_pass2:
            more, _, _ = self._notifier_pass(e, port, kind, upstream, past_wake=True)
            wakers += [n for n in more if n not in wakers]
        for n in wakers:
            n.add_listener(task)
        return NotifierSignal(found)

    def _notifier_pass(self, e, port, kind, upstream, past_wake):
        found = []
        busy = False
        need_pass2 = False
        seen = set()
        step = self._inputs if upstream else self._outputs
        # (element, is the port an output?, port) to visit next
        work = [(self.elements[i], upstream, p) for i, p in step.get((e.eindex, port), [])]
        while work and not busy:
            el, isoutput, p = work.pop()
            if (el.eindex, isoutput, p) in seen:
                continue
            seen.add((el.eindex, isoutput, p))
            n = el.port_notifier(isoutput, p, kind) if hasattr(el, "port_notifier") else None
            if n is not None:
                if n not in found:
                    found.append(n)
                if n.search_op == SEARCH_STOP:
                    continue
                if n.search_op == SEARCH_CONTINUE_WAKE and not past_wake:
                    need_pass2 = True
                    continue
            # Crossing from pull to push (or back) means nothing is known.
            if isoutput and el.output_is_push(p) or (not isoutput and el.input_is_pull(p)):
                if n is None:
                    busy = True
                continue
            flows = self._flow(el, isoutput, p)
            if not flows:
                if n is None and "S0" not in getattr(type(el), "flags", ""):
                    busy = True  # the element may make packets by itself
                continue
            for q in flows:
                work += [(self.elements[i], upstream, pp) for i, pp in step.get((el.eindex, q), [])]
        return found, busy, need_pass2

    def _flow(self, el, isoutput: bool, port: int) -> list[int]:
        """Ports on the other side of el that packets at port may come from or go to."""
        from clickpy.graph.ports import flow_pairs

        code = getattr(type(el), "flow_code", None) or "x/x"
        pairs = flow_pairs(code, el.ninputs, el.noutputs)
        if isoutput:
            return [i for i, o in pairs if o == port]
        return [o for i, o in pairs if i == port]

    # --- handlers ------------------------------------------------------------------

    def _setup_generic_task_handlers(self) -> None:
        """Elements that made a task while initializing get its handlers too."""
        for e in self.elements:
            if getattr(e, "task", None) is not None:
                for h in generic_handlers(e):
                    self._handlers[e.eindex].setdefault(h.name, h)

    def _setup_handlers(self) -> None:
        for _ in self._setup_handlers_steps():
            pass

    def _setup_handlers_steps(self):
        for e in self.elements:
            if e.eindex % 256 == 255:
                yield
            hs = {}
            for h in generic_handlers(e):
                hs[h.name] = h
            for h in list(getattr(type(e), "handlers", ()) or ()) + list(getattr(e, "extra_handlers", ()) or ()):
                hs[h.name] = _merge_handlers(hs.get(h.name), h)
            self._handlers[e.eindex] = hs
        r = self
        root = [
            Handler("version", read=lambda _: VERSION, calm=True),
            Handler("config", read=lambda _: r.graph.unparse(), calm=True),
            Handler("flatconfig", read=lambda _: r.graph.unparse(), calm=True),
            Handler("list", read=lambda _: f"{len(r.elements)}\n" + "".join(f"{e.name}\n" for e in r.elements), calm=True),
            Handler("classes", read=lambda _: "".join(f"{c}\n" for c in sorted(registry.element_classes())), calm=True),
            Handler("requirements", read=lambda _: "".join(f"{v or k}\n" for k, v in r.graph.requirements), calm=True),
            Handler("handlers", read=lambda _: "".join(f"{h.name}\t{h.flags()}\n" for h in r._root_handlers.values()), calm=True),
            Handler("runcount", read=lambda _: r.scheduler.runcount, calm=True),
            Handler("timewarp", read=lambda _: "simulation" if r.scheduler.simulated else r.scheduler.warp,
                    write=None if r.scheduler.simulated
                    else lambda _, v: setattr(r.scheduler, "warp", _timewarp_factor(v))),
            Handler("stop", write=lambda _, v: r.scheduler.adjust_runcount(-_stop_count(v))),
        ]
        for h in root:
            self._root_handlers[h.name] = h

    def add_root_handler(self, h: Handler) -> None:
        self._root_handlers[h.name] = h

    def element_handlers(self, e) -> dict[str, Handler]:
        return self._handlers.get(e.eindex, {})

    def handler(self, e, name: str) -> Handler | None:
        """A handler of element e (None for the router itself)."""
        if e is None:
            return self._root_handlers.get(name)
        hs = self._handlers.get(e.eindex, {})
        h = hs.get(name)
        if h is None and hasattr(e, "star_handler"):
            # An element may make handlers on demand (Click's '*' handlers).
            h = e.star_handler(name)
            if h is not None:
                hs[name] = h
        return h

    def handler_name(self, name: str, context=None) -> tuple:
        """'[element.]handler' -> (element, or None for the router, handler name): Click's cp_handler_name.

        A leading '.' names a router handler. Otherwise the part before the
        first '.' is an element, found relative to context's compound; when
        there is no such element, the whole name is a handler of context
        itself if it has one, else of the router. Raises HandlerError.
        """
        dot = name.find(".")
        if not name or dot == len(name) - 1:
            raise HandlerError("syntax error")
        if dot == 0:
            return None, name[1:]
        if dot > 0:
            e = self.find(name[:dot], context)
            if e is not None:
                return e, name[dot + 1:]
        if context is not None and context.eindex >= 0 and self.handler(context, name) is not None:
            return context, name
        if dot < 0 or self.handler(None, name) is not None:
            return None, name
        raise HandlerError(f"no element named '{name[:dot]}'")

    def resolve_handler(self, full: str, context=None):
        """'element.handler' or 'handler' -> (element or None, Handler), by handler_name's rules."""
        e, hname = self.handler_name(full, context)
        h = self.handler(e, hname)
        if h is None:
            raise HandlerError(f"no handler '{full}'")
        return e, h

    def read(self, full: str, context=None, param: str | None = None) -> str:
        e, h = self.resolve_handler(full, context)
        if not h.readable:
            raise HandlerError(f"'{full}' is a write handler")
        return self.call_read(e, h, param)

    def call_read(self, e, h: Handler, param: str | None = None) -> str:
        try:
            v = h.read(e, param) if h.read_param else h.read(e)
        except HandlerError:
            raise
        except Exception as exc:
            raise HandlerError(f"read handler '{h.name}' failed: {exc}") from None
        return format_value(v)

    def write(self, full: str, value: str = "", context=None) -> None:
        e, h = self.resolve_handler(full, context)
        if not h.writable:
            raise HandlerError(f"'{full}' is a read handler")
        self.call_write(e, h, value)

    def call_write(self, e, h: Handler, value: str, *, allow_pending: bool = False):
        """Call a write handler; returns its status as Click's are (an int the
        handler returned, else 0), or raises HandlerError with its message.
        A handler whose work ends later returns a Pending: handed back when
        allow_pending, else finished here."""
        try:
            r = h.write(e, value)
        except HandlerError:
            raise
        except Exception as exc:
            raise HandlerError(f"write handler '{h.name}' failed: {exc}") from None
        if isinstance(r, Pending):
            if allow_pending:
                return r
            r.wait()
            r = r.error
        if isinstance(r, str) and r:
            raise HandlerError(r)
        return r if isinstance(r, int) and not isinstance(r, bool) else 0

    def expand_handler_pattern(self, pattern: str):
        """Elements matching an '-h' element part: a name, a glob, or a class name.

        Returns (elements, printed_with_names) or raises HandlerError.
        """
        e = self.element(pattern)
        if e is not None:
            return [e], False
        is_glob = any(c in pattern for c in "?*[")
        matches = [e for e in self.elements
                   if (fnmatch.fnmatchcase(e.name, pattern) if is_glob else type(e).__name__ == pattern)]
        if not matches:
            raise HandlerError(f"no element matching '{pattern}'" if is_glob else f"no element '{pattern}'")
        return matches, True


def _merge_handlers(old: Handler | None, new: Handler) -> Handler:
    """A Read and a Write declared under one name make one read/write handler."""
    import dataclasses

    if old is None or old.name in ("name", "class", "ports", "handlers"):
        return new
    if new.read is None and old.read is not None:
        return dataclasses.replace(new, read=old.read)
    if new.write is None and old.write is not None:
        return dataclasses.replace(new, write=old.write)
    return new


def _timewarp_factor(value: str) -> float:
    from clickpy.runtime.args import ArgError, Double

    try:
        factor = Double(value)
    except ArgError:
        raise HandlerError("expected double") from None
    if not 0 < factor <= 1e9:
        raise HandlerError("timefactor must be > 0 and at most 1e9")
    return factor


def _stop_count(value: str) -> int:
    """How far a write to 'stop' lowers the runcount (an integer, default 1)."""
    from clickpy.runtime.args import ArgError, Int

    try:
        return Int(value) if value.strip() else 1
    except ArgError:
        return 1


def reconfigure_element(e, config: str) -> None:
    """Write an element's 'config' handler: reconfigure it in place, or keep the old config."""
    errh = ElementErrors()
    old = e.config
    result = e.configure(split_args(config), errh)
    if errh.nerrors or result is False:
        e.configure(split_args(old), ElementErrors())
        raise HandlerError("\n".join(text for kind, text in errh.items if kind == "error") or "bad configuration")
    e.config = config
