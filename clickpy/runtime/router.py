"""Stage 5: run a Plan as a router.

``Router.from_plan`` takes the front end's checked Plan, creates one element
object per flat element, wires their ports by the push/pull plan the check
produced, then configures every element (reporting every error, each with its
landmark and Click's "While configuring" context) and initializes them.
``run`` hands control to the scheduler until the configuration stops.

The runtime never reads source: it imports no part of the front end
(``clickpy.pipeline``, the parser, elaboration, the check).
"""
from __future__ import annotations

import fnmatch
import traceback
from dataclasses import dataclass

from clickpy.errors import ConfigError, Diagnostic, Landmark
from clickpy.graph.ports import PULL, PUSH
from clickpy.lang.confstring import split_args
from clickpy.plan import Plan
from clickpy.runtime import registry
from clickpy.runtime.error_handler import ElementErrors
from clickpy.runtime.handlers import Handler, HandlerError, format_value, generic_handlers
from clickpy.runtime.notifier import SEARCH_CONTINUE_WAKE, SEARCH_STOP, NotifierSignal
from clickpy.runtime.pending import Pending
from clickpy.runtime.scheduler import Scheduler

VERSION = "2.1 (clickpy 0.1.0)"


def context_diagnostic(landmark: Landmark, context: str, items, severity: str) -> Diagnostic:
    # Click prints the context line with the landmark and each message on
    # its own indented line beneath it.
    lines = []
    for kind, text in items:
        for i, line in enumerate(text.split("\n")):
            lines.append(("  warning: " if kind == "warning" and i == 0 else "  ") + line)
    return Diagnostic(landmark, context, severity, continuation=lines)


@dataclass(eq=False)
class SignalRecord:
    """A notifier signal the router handed out: enough to find it again when a
    hot reload rewires the graph around its listener."""

    element: object
    port: int
    task: object
    kind: str
    upstream: bool
    signal: NotifierSignal
    wakers: list            # the notifiers the listener was added to
    visited: set            # the elements the search passed


class Router:
    def __init__(self, plan: Plan, *, simulated: bool = False, simtime_start: float = 0.0, scheduler=None):
        self.plan = plan
        self.graph = plan.graph
        self.diagnostics = plan.diagnostics
        self.scheduler = scheduler if scheduler is not None else Scheduler(simulated, simtime_start)
        self.elements = []
        self._by_name: dict[str, object] = {}
        self._handlers: dict[int, dict[str, Handler]] = {}
        self._root_handlers: dict[str, Handler] = {}
        self._inputs: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._outputs: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self.signal_records: list[SignalRecord] = []  # every notifier signal handed out
        self.staged_index = None  # element -> index, while this graph is staged beside a running one
        self.retired = []  # elements a hot reload took out, waiting to be cleaned up
        self.initialized = False
        self._has_run = False
        self._cleaned = False
        self.stop_hooks = []  # callables(router) -> bool; True keeps the driver running
        self.hotswap_from = None  # the running router, while this graph is staged for a reload
        self.per_packet = False  # sources send bursts one packet at a time (exact Click order)
        self.attachments = {}  # per-router records elements share (Click's Router::attachment)
        self.scheduler.stop_hook = self._driver_stopped
        # What stands for a class clickpy lacks: nothing (building such a
        # graph is an error), or MissingClass where only configuring is wanted.
        self.missing_class = None

    # --- building ----------------------------------------------------------

    @classmethod
    def from_plan(cls, plan: Plan, *, simulated=False, simtime_start=0.0, per_packet=False) -> "Router":
        """Instantiate, configure and initialize plan; raise ConfigError on any error."""
        router = cls(plan, simulated=simulated, simtime_start=simtime_start)
        router.per_packet = per_packet
        for _ in router.build_steps():
            pass
        return router

    def build_steps(self, initialize: bool = True):
        """Instantiate, configure and (unless told not to) initialize, one
        element per step; raises ConfigError at the end if anything failed.

        A caller that must keep a running router moving (a hot swap) runs the
        steps a few at a time between its batches.
        """
        yield from self._instantiate_steps()
        yield from self._configure_steps()
        if not initialize:
            return
        # Handlers exist before initialization: elements resolve each other's
        # handlers (END_CALL, Script) while initializing.
        yield from self._setup_handlers_steps()
        yield from self.initialize_steps()

    def prepare(self) -> None:
        """Instantiate, configure and make the handlers, but open nothing:
        a guest's zygote prepares a router once, and each guest forked from
        it only initializes (``initialize_steps``, after ``scheduler.after_fork``)."""
        for _ in self._instantiate_steps():
            pass
        for _ in self._configure_steps():
            pass
        for _ in self._setup_handlers_steps():
            pass

    def _configure_steps(self):
        ok = True
        for e in configure_order(self.elements):
            ok = self._configure_one(e) and ok
            yield
        if not ok:
            raise ConfigError(self.diagnostics, stage="initialize")

    def initialize_steps(self):
        for e in configure_order(self.elements):
            if not self._initialize_one(e):
                self.cleanup()
                raise ConfigError(self.diagnostics, stage="initialize")
            yield
        self._setup_generic_task_handlers()
        self.initialized = True

    def reload(self, config, definitions=None):
        """Run config (source text or a Plan) from now on, keeping what is unchanged.

        Returns the ReloadReport. Raises ConfigError, changing nothing, when
        config cannot run. Call it between batches: while the router is not
        running, or from a task, timer or handler on the driver's thread.
        """
        from clickpy.reload.swap import Reload

        if isinstance(config, str):
            from clickpy import pipeline  # the front end, only when handed source text

            config = pipeline.plan(pipeline.Source(config, "config"), definitions)
        return Reload(self, config).run()

    def tables(self) -> tuple:
        """What describes the graph this router runs (a hot reload swaps them whole)."""
        return (self.plan, self.graph, self.diagnostics, self.elements, self._by_name, self._handlers,
                self._inputs, self._outputs, self.signal_records, self.staged_index, self.attachments)

    def set_tables(self, tables: tuple) -> None:
        (self.plan, self.graph, self.diagnostics, self.elements, self._by_name, self._handlers,
         self._inputs, self._outputs, self.signal_records, self.staged_index, self.attachments) = tables

    def instantiate(self) -> None:
        for _ in self._instantiate_steps():
            pass

    def new_element(self, cls, i: int):
        """An element of class cls standing for the plan's element i, in this router."""
        fe = self.graph.elements[i]
        e = cls()
        e.name, e.router, e.eindex, e.landmark, e.config = fe.name, self, i, fe.landmark, fe.config
        return e

    def _instantiate_steps(self):
        classes = {}
        for i, fe in enumerate(self.graph.elements):
            cls = classes.get(fe.class_name)
            if cls is None:
                cls = classes[fe.class_name] = registry.lookup(fe.class_name) or self.missing_class
            e = self.new_element(cls, i)
            self.elements.append(e)
            self._by_name[fe.name] = e
            if i % 256 == 255:
                yield
        self.index_connections()
        for i, e in enumerate(self.elements):
            e.connect_ports(*self.port_wiring(i))
            if i % 256 == 255:
                yield

    def index_connections(self) -> None:
        """The connection tables, by (element, port), from the plan's connection list."""
        for f, fp, t, tp in self.graph.connections:
            self._outputs.setdefault((f, fp), []).append((t, tp))
            self._inputs.setdefault((t, tp), []).append((f, fp))

    def port_wiring(self, i: int) -> tuple:
        """The arguments of element i's connect_ports: its peers by the push/pull plan."""
        plan = self.plan.ports[i]
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
        return out_el, out_port, in_el, in_port, in_pull, out_push

    def _report(self, e, context: str, errh: ElementErrors) -> None:
        if errh.items:
            severity = "error" if errh.nerrors else "note"
            self.diagnostics.items.append(context_diagnostic(e.landmark, context, errh.items, severity))

    def _configure_one(self, e) -> bool:
        errh = ElementErrors()
        # Tasks and timers made now belong to e (a hot reload ends them with it).
        self.scheduler.current_owner = e
        try:
            e.configure(split_args(e.config), errh)
        except MemoryError:
            errh.error("not enough memory for this configuration")
        except Exception as exc:  # a bug in an element must not hide other errors
            errh.error(f"internal error: {exc!r}\n{traceback.format_exc(limit=4)}")
        finally:
            self.scheduler.current_owner = None
        self._report(e, f"While configuring '{e.declaration()}':", errh)
        return not errh.nerrors

    def _initialize_one(self, e) -> bool:
        errh = ElementErrors()
        self.scheduler.current_owner = e
        try:
            e.initialize(errh)
        except Exception as exc:
            errh.error(f"internal error: {exc!r}\n{traceback.format_exc(limit=4)}")
        finally:
            self.scheduler.current_owner = None
        self._report(e, f"While initializing '{e.declaration()}':", errh)
        return not errh.nerrors

    def clean_up_retired(self) -> None:
        """Clean up the elements a hot reload took out (their tasks have ended)."""
        retired, self.retired = self.retired, []
        for e in reversed(retired):
            try:
                e.cleanup("initialized")
            except Exception:
                traceback.print_exc()

    def cleanup(self) -> None:
        """Clean up every element, then release the driver's tasks and
        descriptors (once; later calls do nothing)."""
        if self._cleaned:
            return
        self._cleaned = True
        self.clean_up_retired()
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
        return [(self.elements[f], fp) for f, fp in self._inputs.get((self.index_of(e), port), [])]

    def output_connections(self, e, port: int):
        return [(self.elements[t], tp) for t, tp in self._outputs.get((self.index_of(e), port), [])]

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
        signal, wakers, visited = self.notifier_search(e, port, kind, upstream)
        for n in wakers:
            n.add_listener(task)
        self.signal_records.append(SignalRecord(e, port, task, kind, upstream, signal, wakers, visited))
        return signal

    def notifier_search(self, e, port, kind, upstream):
        """(signal, notifiers that wake the listener, elements the search passed), changing nothing."""
        found, busy, need_pass2, visited = self._notifier_pass(e, port, kind, upstream, past_wake=False)
        if busy:
            return NotifierSignal.busy_signal(), [], visited
        if not found:
            return NotifierSignal.idle_signal(), [], visited  # nothing upstream can ever send a packet
        wakers = list(found)
        if need_pass2:
            more, _, _, seen2 = self._notifier_pass(e, port, kind, upstream, past_wake=True)
            wakers += [n for n in more if n not in wakers]
            visited |= seen2
        return NotifierSignal(found), wakers, visited

    def _notifier_pass(self, e, port, kind, upstream, past_wake):
        found = []
        busy = False
        need_pass2 = False
        seen = set()
        step = self._inputs if upstream else self._outputs
        # (element index, is the port an output?, port) to visit next
        work = [(i, upstream, p) for i, p in step.get((self.index_of(e), port), [])]
        while work and not busy:
            item = work.pop()
            if item in seen:
                continue
            seen.add(item)
            i, isoutput, p = item
            el = self.elements[i]
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
                work += [(j, upstream, pp) for j, pp in step.get((i, q), [])]
        return found, busy, need_pass2, {self.elements[i] for i, _, _ in seen}

    def index_of(self, e) -> int:
        """e's index in this router's graph (a graph being staged for a reload
        holds running elements whose own eindex is still the old one)."""
        return e.eindex if self.staged_index is None else self.staged_index[e]

    def _flow(self, el, isoutput: bool, port: int) -> list[int]:
        """Ports on the other side of el that packets at port may come from or go to."""
        from clickpy.graph.ports import flow_pairs

        code = getattr(type(el), "flow_code", None) or "x/x"
        pairs = flow_pairs(code, el.ninputs, el.noutputs)
        if isoutput:
            return [i for i, o in pairs if o == port]
        return [o for i, o in pairs if i == port]

    # --- handlers ------------------------------------------------------------------

    def _setup_generic_task_handlers(self, elements=None) -> None:
        """Elements that made a task while initializing get its handlers too."""
        for e in self.elements if elements is None else elements:
            if getattr(e, "task", None) is not None:
                for h in generic_handlers(e):
                    self._handlers[self.index_of(e)].setdefault(h.name, h)

    def _setup_handlers(self) -> None:
        for _ in self._setup_handlers_steps():
            pass

    def _setup_handlers_steps(self):
        for e in self.elements:
            if e.eindex % 256 == 255:
                yield
            self._handlers[e.eindex] = handler_table(e)
        r = self
        root = [
            Handler("version", read=lambda _: VERSION, calm=True),
            Handler("config", read=lambda _: r.graph.unparse(), calm=True),
            Handler("flatconfig", read=lambda _: r.graph.unparse(), calm=True),
            Handler("plan", read=lambda _: r.plan.pack(), calm=True),
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
        return self._handlers.get(self.index_of(e), {})

    def handler(self, e, name: str) -> Handler | None:
        """A handler of element e (None for the router itself)."""
        if e is None:
            return self._root_handlers.get(name)
        hs = self._handlers.get(self.index_of(e), {})
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


def configure_order(elements) -> list:
    """elements in the order they are configured and initialized: by their
    class's configure_phase, then as the configuration lists them."""
    return sorted(elements, key=lambda e: (getattr(type(e), "configure_phase", 100), e.eindex))


def handler_table(e) -> dict[str, Handler]:
    """e's handlers by name: every element's, then its class's and its own."""
    hs = {}
    for h in generic_handlers(e):
        hs[h.name] = h
    for h in list(getattr(type(e), "handlers", ()) or ()) + list(getattr(e, "extra_handlers", ()) or ()):
        hs[h.name] = _merge_handlers(hs.get(h.name), h)
    return hs


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
