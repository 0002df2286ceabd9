"""Reload, stages 2 and 3: build the new graph beside the running one, then swap.

``Reload(router, plan)`` diffs the running Plan against the new one. Its
``steps()`` build what is new (replaced and added elements) beside the
running graph: instantiated, configured and initialized against the new
graph, their tasks, timers and descriptors held by a staging scheduler, while
the old graph keeps forwarding. Continuing elements are not touched; a
reconfiguration is tried on a scratch copy. Anything that fails here leaves
the running router as it was, and the error names file:line:col.

``commit()`` is the swap. It runs on the driver's thread between two batches,
and its cost follows the change, not the graph: the live scheduler adopts the
staged tasks, the router takes the new graph's tables, continuing elements
whose neighbours changed are reconnected, notifier signals around them are
re-resolved in place, reconfigured elements are reconfigured, and replaced
ones hand their state to their successors. If any of that fails, every step
done is undone in reverse and the old graph runs on. The elements that left
are ended at once (their tasks can never run again) and cleaned up after the
next batches, outside the pause.
"""
from __future__ import annotations

import gc
import time
import traceback

from clickpy.errors import ConfigError, Diagnostics
from clickpy.plan import Plan
from clickpy.reload.diff import CONTINUING, RECONFIGURE, REPLACE, PlanDiff, diff
from clickpy.reload.report import ReloadReport
from clickpy.runtime import registry
from clickpy.runtime.error_handler import ElementErrors
from clickpy.runtime.handlers import HandlerError
from clickpy.runtime.router import Router, configure_order, context_diagnostic, handler_table, reconfigure_element
from clickpy.runtime.scheduler import Scheduler, Timer
from clickpy.specialize import fuse_again, unfuse


class Reload:
    """One reload of a running router: staged beside it, then committed between batches."""

    def __init__(self, router: Router, plan: Plan, plan_diff: PlanDiff | None = None):
        """plan_diff: the diff of the running Plan and plan, when already made
        (a checking child makes it, off the driver's thread)."""
        self.router = router
        self.plan = plan
        self.diff = plan_diff if plan_diff is not None else diff(router.plan, plan, registry.lookup)
        self.report = ReloadReport.of(self.diff)
        self.staged: Router | None = None
        self.fresh = []        # the new objects (replaced and added elements)
        self.retiring = []     # the old objects that leave (replaced and removed)
        self._rewire = []      # (element, its new wiring, its old wiring)
        self._resignal = []    # (record, new signal, wakers, visited)
        self._records = []     # the signal records of the new graph
        self._retired_records = []  # the signal records of the elements that leave
        self._moves = []       # (continuing element, its new index, its new name) where either changes
        self._reconfigure = []  # indices of elements reconfigured in place
        self._replace = []     # (new element, the old one it replaces)
        self.done = False

    # --- staging ------------------------------------------------------------------

    def run(self) -> ReloadReport:
        """Stage and commit in one go (for callers between batches, or not running)."""
        for _ in self.steps():
            pass
        return self.commit()

    def build_and_swap(self):
        """steps(), then the swap, for a task of the running router: it yields
        True before the swap, which then starts a turn of its own, right after
        a batch, so that the pause is the swap's alone."""
        yield from self.steps()
        try:
            yield True
        except BaseException:
            self._discard()
            raise
        self.commit()

    def steps(self):
        """Build the new elements beside the running graph, one per step.
        Raises ConfigError at the end if anything failed; nothing running changed."""
        live, d = self.router, self.diff
        staged = Router(self.plan, scheduler=Scheduler.staging(live.scheduler))
        self.staged = staged
        staged.hotswap_from = live
        staged.per_packet = live.per_packet
        staged._root_handlers = live._root_handlers
        positions = {}
        try:
            for i, fe in enumerate(self.plan.elements):
                if d.actions[i] in CONTINUING:
                    e = live.elements[d.previous[i]]
                else:
                    cls = registry.lookup(fe.class_name)
                    if cls is None:
                        raise ConfigError(f"unknown element class '{fe.class_name}'", fe.landmark)
                    e = staged.new_element(cls, i)
                    self.fresh.append(e)
                staged.elements.append(e)
                staged._by_name[fe.name] = e
                positions[e] = i
                if i % 128 == 127:
                    yield
            staged.staged_index = positions
            staged.index_connections()
            for e in self.fresh:
                e.connect_ports(*staged.port_wiring(positions[e]))
            continuing = {live.elements[d.previous[i]] for i, a in enumerate(d.actions) if a in CONTINUING}
            self.retiring = [e for e in live.elements if e not in continuing]
            # Records elements share (the driver Script): the leaving elements' go.
            leaving = {id(e) for e in self.retiring}
            staged.attachments = {k: v for k, v in live.attachments.items() if id(v) not in leaving}
            self._rewire = [(staged.elements[i], staged.port_wiring(i), live.port_wiring(d.previous[i]))
                            for i in sorted(d.rewired)]
            self._moves = [(e, i, self.plan.elements[i].name) for i, e in enumerate(staged.elements)
                           if e in continuing and (e.eindex != i or e.name != self.plan.elements[i].name)]
            self._reconfigure = [i for i, a in enumerate(d.actions) if a == RECONFIGURE]
            self._replace = [(staged.elements[i], live.elements[d.previous[i]])
                             for i, a in enumerate(d.actions) if a == REPLACE]
            yield

            ok = True
            order = configure_order(self.fresh)
            for e in order:
                ok = staged._configure_one(e) and ok
                yield
            for i in self._reconfigure:
                ok = self._try_configuration(i) and ok
                yield
            if not ok:
                raise ConfigError(staged.diagnostics, stage="initialize")

            for i, e in enumerate(staged.elements):
                staged._handlers[i] = handler_table(e) if d.actions[i] not in CONTINUING \
                    else live._handlers.get(d.previous[i], {})
                if i % 128 == 127:
                    yield
            for e in order:
                if not staged._initialize_one(e):
                    raise ConfigError(staged.diagnostics, stage="initialize")
                yield
            staged._setup_generic_task_handlers(self.fresh)
            self._plan_signals(continuing)
        except BaseException:
            self._discard()
            raise

    def _try_configuration(self, i: int) -> bool:
        """Configure a scratch copy of element i with its new configuration: errors
        show now, while the running element is untouched."""
        staged = self.staged
        scratch = staged.new_element(type(staged.elements[i]), i)
        scratch.connect_ports(*staged.port_wiring(i))
        try:
            return staged._configure_one(scratch)
        finally:
            staged.scheduler.retire(scratch)
            try:
                scratch.cleanup("configured")
            except Exception:
                traceback.print_exc()

    def _plan_signals(self, continuing) -> None:
        """Which signals of continuing elements must be found again, and what they become."""
        live, staged = self.router, self.staged
        changed = set(self.retiring) | {e for e, _, _ in self._rewire}
        for rec in live.signal_records:
            if rec.element not in continuing:
                self._retired_records.append(rec)
                continue
            self._records.append(rec)
            if rec.element in changed or rec.visited & changed:
                self._resignal.append((rec, *staged.notifier_search(rec.element, rec.port, rec.kind, rec.upstream)))
        self._records += staged.signal_records

    def _discard(self) -> None:
        """Give up before the swap: end and clean up everything staged."""
        self._end_fresh()
        self.staged.scheduler.clear_tasks()
        self.staged.scheduler.close()

    # --- the swap -------------------------------------------------------------------

    def commit(self) -> ReloadReport:
        """Swap in the staged graph; between batches, on the driver's thread.

        Raises ConfigError (after undoing every step) if a reconfiguration or a
        state hand-over fails; the old graph then runs on."""
        live, staged = self.router, self.staged
        sched = live.scheduler
        undo = []
        leaving = {id(e) for e in self.retiring}
        collecting = gc.isenabled()
        gc.disable()  # a collection of the whole heap would be most of the pause
        start = time.perf_counter_ns()
        try:
            # Fused chains have the old wiring built in: the generic path runs
            # until the new graph's module is installed.
            fused = unfuse(live)
            undo.append(lambda: fuse_again(live, fused))
            sched.adopt(staged.scheduler)
            undo.append(self._end_fresh)
            # New driver scripts lowered the staging runcount to be asked what to do.
            delta = staged.scheduler.runcount - 1
            sched.adjust_runcount(delta)
            undo.append(lambda: sched.adjust_runcount(-delta))
            for e in self.fresh:
                e.router = live

            saved = live.tables()
            live.set_tables(staged.tables())
            undo.append(lambda: live.set_tables(saved))
            live.signal_records = self._records
            live.staged_index = None
            for e, i, name in self._moves:  # continuing elements at another place, or renumbered
                old = (e.eindex, e.name)
                e.eindex, e.name = i, name
                undo.append(lambda e=e, old=old: _place(e, *old))

            for e, wiring, old_wiring in self._rewire:
                e.connect_ports(*wiring)
                undo.append(lambda e=e, w=old_wiring: e.connect_ports(*w))

            for rec, signal, wakers, visited in self._resignal:
                before = (rec.signal.sources, rec.signal.busy, rec.wakers, rec.visited)
                _listen(rec, wakers)
                rec.signal.rebind(signal.sources, signal.busy)
                rec.visited = visited
                undo.append(lambda rec=rec, b=before: _unresignal(rec, b))

            for i in self._reconfigure:
                e = live.elements[i]
                old_config = e.config
                before = _queued(e)
                try:
                    reconfigure_element(e, self.plan.elements[i].config)
                except Exception as err:  # HandlerError says why; anything else is an element's bug
                    text = str(err) if isinstance(err, HandlerError) else f"internal error: {err!r}"
                    raise ConfigError(f"While reconfiguring '{e.declaration()}':\n  {text}", e.landmark,
                                      stage="initialize") from None
                undo.append(lambda e=e, c=old_config: reconfigure_element(e, c))
                self.report.lost += max(0, before - _queued(e))  # a queue that shrank

            for new_e, old_e in self._replace:
                errh = ElementErrors()
                # (undone even when it fails half way: giving back is symmetric)
                undo.append(lambda n=new_e, o=old_e: o.take_state(n, ElementErrors()))
                try:
                    counts = new_e.take_state(old_e, errh)
                except Exception as exc:  # a bug in an element: roll back, say where
                    errh.error(f"internal error: {exc!r}")
                if errh.nerrors:
                    d = Diagnostics()
                    d.items.append(context_diagnostic(new_e.landmark, f"While taking state for "
                                                      f"'{new_e.declaration()}':", errh.items, "error"))
                    raise ConfigError(d, stage="initialize")
                self.report.carry(counts)
                self.report.lost += int((counts or {}).get("dropped", 0))

            handed_over = {old_e for _, old_e in self._replace}
            for e in self.retiring:
                if e not in handed_over:
                    self.report.lost += _queued(e)  # a removed queue's packets
                sched.retire(e)
            # A driver script that leaves no longer decides when the driver stops.
            hooks = live.stop_hooks
            live.stop_hooks = [h for h in hooks if id(getattr(h, "__self__", None)) not in leaving] \
                + staged.stop_hooks  # and new ones do
            undo.append(lambda: setattr(live, "stop_hooks", hooks))
        except BaseException:
            for step in reversed(undo):
                try:
                    step()
                except Exception:
                    traceback.print_exc()
            self._end_fresh()
            staged.scheduler.close()
            raise
        finally:
            if collecting:
                gc.enable()
        self.report.pause_us = (time.perf_counter_ns() - start) / 1000
        self.done = True
        staged.scheduler.close()
        # The old graph's tables are freed later too: freeing a large graph's
        # dicts and lists now would lengthen the pause.
        self._clean_up_later(live, self._retired_records, saved)
        return self.report

    def _end_fresh(self) -> None:
        """End the new objects' tasks, wherever they are now (staged or adopted),
        and clean the objects up."""
        sched = self.router.scheduler
        for rec in self.staged.signal_records:
            for n in rec.wakers:
                n.remove_listener(rec.task)
        for e in reversed(self.fresh):
            sched.retire(e)
            self.staged.scheduler.retire(e)
            try:
                e.cleanup("initialized")
            except Exception:
                traceback.print_exc()
        self.fresh = []

    def _clean_up_later(self, live: Router, records, old_tables) -> None:
        """After the next batches: clean up the elements that left (their tasks
        are already ended, so nothing runs them meanwhile) and let the old
        graph's tables go."""
        for rec in records:
            for n in rec.wakers:
                n.remove_listener(rec.task)
        live.retired += self.retiring
        later = [old_tables, self]

        def clean(timer):
            live.clean_up_retired()
            later.clear()

        timer = Timer(callback=clean)
        timer.initialize(live.scheduler)
        timer.schedule_now()


def _listen(rec, wakers) -> None:
    for n in rec.wakers:
        if n not in wakers:
            n.remove_listener(rec.task)
    for n in wakers:
        n.add_listener(rec.task)
    rec.wakers = wakers


def _unresignal(rec, before) -> None:
    sources, busy, wakers, visited = before
    _listen(rec, wakers)
    rec.signal.rebind(sources, busy)
    rec.visited = visited


def _queued(e) -> int:
    """Packets e holds, if it is a queue."""
    length = getattr(e, "length", None)
    return int(length()) if callable(length) else 0


def _place(e, eindex: int, name: str) -> None:
    e.eindex, e.name = eindex, name
