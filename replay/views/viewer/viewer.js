// pytest-scope viewer: rebuilds the state at any step from the embedded chunks.
// Every recorded string is untrusted: it reaches the page through textContent only.
"use strict";
(() => {
  // The trace format, as the data carries it (html_view._trace_format): set by readFormat
  // before the recording is read.
  let KINDS, CALL, RETURN, YIELD, RESUME, LEAVING, ENTERING, MARKS, RESOLVE_DEPTH, RESOLVE_NODES;
  let CONTAINERS; // what an object entry's last element names, by number
  // What the recorded forms mean (html_view._format_facts): set by readFacts.
  let ASSERTION_TEMPORARIES; // the prefixes of the locals pytest's assertion rewriting binds
  const ROW = 18;
  const OVERSCAN = 12;
  const PREVIEW_ITEMS = 8;
  const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
  const byId = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  class Corrupt extends Error {}

  function readFormat(format) {
    KINDS = format.kinds;
    const kind = (name) => KINDS.indexOf(name);
    CALL = kind("call");
    RETURN = kind("return");
    YIELD = kind("yield");
    RESUME = kind("resume");
    LEAVING = new Set(format.leaving);
    ENTERING = new Set([CALL, RESUME]);
    MARKS = format.marks;
    CONTAINERS = format.containers;
    RESOLVE_DEPTH = format.resolve_depth;
    RESOLVE_NODES = format.resolve_nodes;
  }

  function readFacts(facts) {
    ASSERTION_TEMPORARIES = facts.assertion_temporaries;
  }

  // ---- the recording -------------------------------------------------------------------
  let data = null;
  let chunks = []; // {first, keyframe, events}
  let chunkFirsts = [];
  let firstStep = 1, lastStep = 1;
  let kinds, codes, lines, threads, depths; // per step, index step - firstStep
  let threadCount = 0;
  let watches = false; // the test watches objects (pytest_scope.watch) at some step
  let stepDiffs = Object.create(null); // the diff document by step, of the steps diffed
  let diffedSteps = []; // those steps, in order

  async function inflate(base64) {
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser cannot inflate the recording (it needs DecompressionStream: " +
        "Chrome 80, Firefox 113, Safari 16.4 or newer)");
    }
    const binary = atob(base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }

  function locals(values) {
    // A prototype-free map: a local named __proto__ is data like any other.
    const map = Object.create(null);
    if (values) for (const key of Object.keys(values)) map[key] = values[key];
    return map;
  }

  function frameOf(raw, light) {
    const [frameNo, codeNo, line, values] = raw;
    return { frameNo, codeNo, line, locals: light ? null : locals(values) };
  }

  // The rules of pytest_scope/trace/schema.py, as replay/reading/state.py's Replay.apply applies them.
  class Replay {
    // light: the stack's shape only (for the timeline's depths), no locals.
    constructor(keyframe, light = false) {
      this.light = light;
      this.threads = new Map();
      this.suspended = new Map();
      this.leaving = new Map();
      this.watched = locals(light ? null : keyframe.watched); // the test's, not a frame's
      this.objects = new Map(); // number -> [number, type name, form, foreign]
      if (!light) this.addObjects(keyframe.objects);
      for (const [thread, frames] of keyframe.threads || []) {
        this.threads.set(thread, frames.map((raw) => frameOf(raw, light)));
      }
      for (const raw of keyframe.suspended || []) {
        const frame = frameOf(raw, light);
        this.suspended.set(frame.frameNo, frame);
      }
    }

    apply(event) {
      const [, kind, thread, frameNo, codeNo, line, rawPayload] = event;
      let stack = this.threads.get(thread);
      if (!stack) this.threads.set(thread, (stack = []));
      if (this.leaving.has(thread)) {
        const leftKind = this.leaving.get(thread);
        this.leaving.delete(thread);
        if (!stack.length) throw new Corrupt("a frame leaves an empty stack");
        const left = stack.pop();
        if (leftKind === YIELD) this.suspended.set(left.frameNo, left);
      }
      const payload = rawPayload || {};
      const unwound = payload.u || 0;
      if (unwound) {
        if (!(unwound > 0 && unwound <= stack.length)) throw new Corrupt(`pops ${unwound} frames`);
        stack.splice(stack.length - unwound, unwound);
      }
      if (kind === CALL) {
        stack.push({ frameNo, codeNo, line, locals: locals(null) });
      } else if (kind === RESUME) {
        let frame = this.suspended.get(frameNo);
        if (frame) this.suspended.delete(frameNo);
        else frame = this.yieldedElsewhere(frameNo);
        stack.push(frame || { frameNo, codeNo, line, locals: locals(null) });
      }
      const top = stack[stack.length - 1];
      if (!top || top.frameNo !== frameNo) {
        throw new Corrupt(`frame ${frameNo} is not on top of thread ${thread}'s stack`);
      }
      top.line = line;
      if (this.light) {
        if (LEAVING.has(kind)) this.leaving.set(thread, kind);
        return stack;
      }
      if (payload.l) for (const key of Object.keys(payload.l)) top.locals[key] = payload.l[key];
      for (const name of payload.d || []) delete top.locals[name];
      for (const [outerNo, outerLine, changed, deleted] of payload.o || []) {
        const outer = stack.find((frame) => frame.frameNo === outerNo);
        if (!outer) throw new Corrupt(`changes frame ${outerNo}, which is not on the stack`);
        outer.line = outerLine;
        for (const key of Object.keys(changed || {})) outer.locals[key] = changed[key];
        for (const name of deleted || []) delete outer.locals[name];
      }
      if (payload.w) for (const key of Object.keys(payload.w)) this.watched[key] = payload.w[key];
      this.addObjects(payload.b);
      if (LEAVING.has(kind)) this.leaving.set(thread, kind);
      return stack;
    }

    addObjects(entries) {
      if (entries === undefined) return;
      if (!Array.isArray(entries)) throw new Corrupt("objects that are not an array");
      for (const entry of entries) {
        if (!Array.isArray(entry) || entry.length !== 5) throw new Corrupt("a malformed object");
        this.objects.set(entry[0], entry);
      }
    }

    yieldedElsewhere(frameNo) {
      for (const [thread, kind] of this.leaving) {
        const stack = this.threads.get(thread);
        if (kind === YIELD && stack.length && stack[stack.length - 1].frameNo === frameNo) {
          this.leaving.delete(thread);
          return stack.pop();
        }
      }
      return null;
    }
  }

  function buildTimeline() {
    const count = lastStep - firstStep + 1;
    kinds = new Uint8Array(count);
    codes = new Int32Array(count);
    lines = new Int32Array(count);
    threads = new Int32Array(count);
    depths = new Int32Array(count);
    const seenThreads = new Set();
    for (const chunk of chunks) {
      const replay = new Replay(chunk.keyframe, true);
      if (chunk.keyframe.watched && Object.keys(chunk.keyframe.watched).length) watches = true;
      for (const event of chunk.events) {
        if (event[6] && event[6].w) watches = true;
        const index = event[0] - firstStep;
        const stack = replay.apply(event);
        kinds[index] = event[1];
        threads[index] = event[2];
        codes[index] = event[4];
        lines[index] = event[5];
        depths[index] = stack.length;
        seenThreads.add(event[2]);
      }
    }
    threadCount = seenThreads.size;
  }

  function chunkIndex(step) {
    let low = 0, high = chunkFirsts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (chunkFirsts[middle] <= step) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  let cached = null; // {index, replay, next, stack}: stepping forward continues the replay

  function stateAt(step) {
    const index = chunkIndex(step);
    const chunk = chunks[index];
    if (!cached || cached.index !== index || cached.step >= step) {
      cached = { index, replay: new Replay(chunk.keyframe), next: 0, step: chunk.first - 1 };
    }
    while (cached.next < chunk.events.length) {
      const event = chunk.events[cached.next++];
      const stack = cached.replay.apply(event);
      cached.step = event[0];
      if (event[0] === step) return resolvedState(event, stack, cached.replay);
    }
    throw new Corrupt(`step ${step} is not in its chunk`);
  }

  // The state with every object reference resolved, as replay/reading/references.py does it.
  function resolvedState(event, stack, replay) {
    const resolve = resolver(replay.objects);
    const resolveAll = (values) => {
      const map = locals(null);
      for (const key of Object.keys(values)) map[key] = resolve(values[key]);
      return map;
    };
    const payload = event[6] || {};
    return {
      event,
      stack: stack.map((frame) => ({ ...frame, raw: frame.locals, locals: resolveAll(frame.locals) })),
      watched: resolveAll(replay.watched),
      rawWatched: replay.watched,
      exception: hasOwn(payload, "x") ? resolve(payload.x) : null,
      returned: hasOwn(payload, "r") ? resolve(payload.r) : null,
    };
  }

  function resolver(objects) {
    let budget = 0;
    const path = new Set();
    const kept = (length) => Math.min(length, Math.max(budget, 0));
    const isRef = (form) => isObject(form) && hasOwn(form, "$ref") && Object.keys(form).length === 1;
    const expandable = (form) => Array.isArray(form) || (isObject(form) && !hasOwn(form, "repr"));
    function values(form, depth) {
      const keys = Object.keys(form);
      const keep = kept(keys.length);
      const out = {};
      for (const key of keys.slice(0, keep)) out[key] = walk(form[key], depth + 1);
      return [out, keep < keys.length];
    }
    // A container's $type form names its kind after its type (references._with_kind).
    const withKind = (out, kind) => (kind && isObject(out) && hasOwn(out, "$type") ?
      { $type: out.$type, $kind: kind, ...out } : out);
    function sequence(items, depth, name, kind) {
      const keep = kept(items.length);
      const out = items.slice(0, keep).map((item) => walk(item, depth + 1));
      return keep === items.length ? out :
        { $type: name, $kind: kind, items: out, $truncated: items.length };
    }
    function object(number, depth) {
      const entry = objects.get(number);
      if (!entry) throw new Corrupt(`a reference to object ${number}, which the chunk lacks`);
      const [, name, form, foreign, container] = entry;
      const kind = CONTAINERS[container];
      if (form === null || form === undefined) return withKind({ $type: name, $depth: true }, kind);
      if (path.has(number)) return withKind({ $type: name, $cycle: true }, kind);
      if (expandable(form) && (depth >= RESOLVE_DEPTH || (depth && foreign))) {
        return withKind({ $type: name, $depth: true }, kind);
      }
      budget += 1;
      path.add(number);
      try {
        return Array.isArray(form) ? sequence(form, depth, name, kind) :
          withKind(walk(form, depth), kind);
      } finally {
        path.delete(number);
      }
    }
    function walk(form, depth) {
      budget -= 1;
      if (Array.isArray(form)) return sequence(form, depth, "list", "sequence");
      if (!isObject(form)) return form;
      if (isRef(form)) return object(form.$ref, depth);
      if (!hasOwn(form, "$type")) {
        const [out, cut] = values(form, depth);
        if (!cut) return out;
        return { $type: "dict", $kind: "mapping", items: Object.entries(out),
          $truncated: Object.keys(form).length };
      }
      const out = { ...form };
      if (isObject(form.attrs)) {
        const [attrs, cut] = values(form.attrs, depth);
        out.attrs = attrs;
        if (cut && !hasOwn(form, "$truncated")) out.$truncated = Object.keys(form.attrs).length;
      }
      if (Array.isArray(form.items)) {
        const keep = kept(form.items.length);
        // There an array is a dict's [key, value] pair, both at the pair's depth.
        out.items = form.items.slice(0, keep).map((item) => (Array.isArray(item) &&
          item.length === 2 ? [walk(item[0], depth + 1), walk(item[1], depth + 1)] :
          walk(item, depth + 1)));
        if (keep < form.items.length && !hasOwn(form, "$truncated")) {
          out.$truncated = form.items.length;
        }
      }
      return out;
    }
    return (form) => {
      if (form === null || typeof form !== "object") return form;
      budget = RESOLVE_NODES;
      path.clear();
      return walk(form, 0);
    };
  }

  // ---- values --------------------------------------------------------------------------
  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  const isScalar = (value) => value === null || typeof value !== "object";

  function scalarText(value) {
    if (value === null || value === undefined) return "None";
    if (value === true) return "True";
    if (value === false) return "False";
    if (typeof value === "number") return String(value);
    return JSON.stringify(String(value));
  }

  function markText(value) {
    if (hasOwn(value, "$redacted")) return "<redacted>";
    if (hasOwn(value, "$cycle")) return "<cycle>";
    if (hasOwn(value, "$depth")) return "<nested too deep>";
    return null;
  }

  function plainKeys(value) {
    return Object.keys(value).filter((key) => !MARKS.includes(key));
  }

  // One line for a value; short collections of scalars are spelled out.
  function shortText(value) {
    if (isScalar(value)) return scalarText(value);
    if (Array.isArray(value)) {
      if (value.length <= PREVIEW_ITEMS && value.every(isScalar)) {
        return "[" + value.map(scalarText).join(", ") + "]";
      }
      return `[${value.length} items]`;
    }
    const mark = markText(value);
    if (mark) return mark;
    const truncated = hasOwn(value, "$truncated") ? ` (of ${value.$truncated})` : "";
    if (!hasOwn(value, "$type")) {
      const keys = plainKeys(value);
      if (keys.length <= PREVIEW_ITEMS && keys.every((key) => isScalar(value[key]))) {
        const inner = keys.map((key) => `${JSON.stringify(key)}: ${scalarText(value[key])}`);
        return "{" + inner.join(", ") + "}" + truncated;
      }
      return `{${keys.length} keys}` + truncated;
    }
    if (value.$type === "str" && typeof value.repr === "string") {
      return JSON.stringify(value.repr) + "\u2026" + truncated; // a long string, cut
    }
    let text = String(value.$type);
    if (hasOwn(value, "repr")) text += " " + String(value.repr);
    if (isObject(value.attrs)) text += ` {${Object.keys(value.attrs).length} attrs}`;
    if (Array.isArray(value.items)) {
      const items = value.items;
      text += items.length <= PREVIEW_ITEMS && items.every(isScalar)
        ? " [" + items.map(scalarText).join(", ") + "]"
        : ` [${items.length} items]`;
    }
    return text + truncated;
  }

  // "AssertionError: assert 2 == 1", as pytest prints it; its attributes fold below.
  function exceptionLine(value) {
    if (!isObject(value) || !hasOwn(value, "$type")) return shortText(value);
    let args = isObject(value.attrs) ? value.attrs.args : undefined;
    if (isObject(args) && Array.isArray(args.items)) args = args.items;
    if (!Array.isArray(args) || !args.length) return String(value.$type);
    const message = args.length === 1 && typeof args[0] === "string" ? args[0] :
      args.map(shortText).join(", ");
    return `${value.$type}: ${message}`;
  }

  function childrenOf(value) {
    if (isScalar(value)) return null;
    let children = [];
    if (Array.isArray(value)) {
      children = value.map((item, index) => [`[${index}]`, item]);
    } else if (markText(value)) {
      return null;
    } else if (!hasOwn(value, "$type")) {
      children = plainKeys(value).map((key) => [JSON.stringify(key), value[key]]);
    } else {
      if (isObject(value.attrs)) {
        for (const key of Object.keys(value.attrs)) children.push(["." + key, value.attrs[key]]);
      }
      if (Array.isArray(value.items)) {
        value.items.forEach((item, index) => {
          if (value.$kind !== "mapping") children.push([`[${index}]`, item]);
          else if (Array.isArray(item) && item.length === 2) {
            const key = scalarKey(item[0]) ? pyRepr(item[0]) : shortText(item[0]);
            children.push([`[${key}]`, item[1]]);
          }
        });
      }
    }
    return children.length ? children : null;
  }

  function valueClass(value) {
    if (value === null) return "none";
    if (typeof value === "string") return "str";
    if (typeof value === "number" || typeof value === "boolean") return "num";
    if (isObject(value) && markText(value)) return "mark";
    return "";
  }

  const expanded = new Set(); // paths kept open while scrubbing

  function valueRow(name, value, path, changed) {
    const row = el("div", "value-row" + (changed ? " changed" : ""));
    row.dataset.path = path;
    const children = childrenOf(value);
    const toggle = el("span", "toggle", children ? "\u25B8" : "");
    row.append(toggle);
    if (name !== null) {
      row.append(el("span", "name", name), document.createTextNode(" = "));
    }
    row.append(el("span", "value " + valueClass(value), shortText(value)));
    const frameNo = Number(path.split("\u0000")[0]);
    if (Number.isInteger(frameNo) && path.includes("\u0000")) {
      const action = el("span", "history-action", "history");
      action.title = "every step at which this value changed";
      action.addEventListener("click", () => showHistory(path));
      row.append(action);
    }
    if (children) {
      let box = null;
      const open = () => {
        box = el("div", "children");
        for (const [label, child] of children) {
          box.append(valueRow(label, child, path + "\u0000" + label, false));
        }
        row.append(box);
        toggle.textContent = "\u25BE";
        expanded.add(path);
      };
      toggle.addEventListener("click", () => {
        if (box) {
          box.remove();
          box = null;
          toggle.textContent = "\u25B8";
          expanded.delete(path);
        } else {
          open();
        }
      });
      if (expanded.has(path)) open();
    }
    return row;
  }

  // ---- lists that render only their visible rows ---------------------------------------
  class VirtualList {
    constructor(container, renderRow) {
      this.container = container;
      this.renderRow = renderRow;
      this.count = 0;
      this.spacer = el("div", "spacer");
      container.append(this.spacer);
      container.addEventListener("scroll", () => this.draw());
      window.addEventListener("resize", () => this.draw());
    }

    setCount(count) {
      this.count = count;
      this.spacer.style.height = `${count * ROW}px`;
      this.draw();
    }

    draw() {
      const top = this.container.scrollTop;
      const height = this.container.clientHeight || 400;
      const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
      const last = Math.min(this.count - 1, Math.ceil((top + height) / ROW) + OVERSCAN);
      const rows = [];
      for (let index = first; index <= last; index++) {
        const row = this.renderRow(index);
        row.classList.add("row");
        row.style.top = `${index * ROW}px`;
        rows.push(row);
      }
      this.spacer.replaceChildren(...rows);
    }

    reveal(index) {
      const height = this.container.clientHeight || 400;
      const top = index * ROW;
      if (top < this.container.scrollTop || top + ROW > this.container.scrollTop + height) {
        this.container.scrollTop = Math.max(0, top - height / 2);
      }
      this.draw();
    }
  }

  // ---- the page ------------------------------------------------------------------------
  let current = 1;
  let selectedFrame = -1; // index in the stack; -1: the event's frame
  let timelineList, sourceList;
  let sourceLines = [], sourceFile = null, sourceLine = 0;
  let shown = null; // {step, event, stack, watched}

  const code = (codeNo) => data.codes[String(codeNo)] || ["<unknown code>", "", 0];

  // pytest's assertion rewriting binds these; they repeat what the assert compared.
  const isTemporary = (name) => ASSERTION_TEMPORARIES.some((prefix) => name.startsWith(prefix));
  let showTemporaries = false;

  function displayFile(file) {
    const root = data.rootdir;
    if (root && file.startsWith(root + "/")) return file.slice(root.length + 1);
    return file;
  }

  // A timeline row: the step, the kind, and where, indented by the stack's depth; then
  // (viewer.css) the failure's or the first divergence's mark. Short of room, the row's
  // end gives way (an ellipsis): the mark first, the name only when it is too long alone.
  const INDENT = "  ", MAX_INDENT_LEVELS = 12;
  const ROW_PADDING = 2 * 6; // .vlist .row's, in viewer.css
  const SCROLLBAR = 16;
  const TIMELINE_MIN = 280; // viewer.css's width of the panel, the least it takes
  const OTHER_COLUMNS = 300 + 280 + 40; // main's grid: the source's and state's least, gaps
  const MARK_CHARS = { // viewer.css's marks (::after)
    failure: " \u25C0 failure".length, divergence: " \u25C0 first divergence".length,
  };
  let stepChars = 6, kindChars = 9; // the columns' widths, set by fitTimeline

  function timelineText(index) {
    const indent = INDENT.repeat(Math.max(0, Math.min(depths[index] - 1, MAX_INDENT_LEVELS)));
    const thread = threadCount > 1 ? ` [thread ${threads[index]}]` : "";
    return `${String(firstStep + index).padStart(stepChars)} ` +
      `${(KINDS[kinds[index]] || "?").padEnd(kindChars)} ` +
      `${indent}${code(codes[index])[0]}:${lines[index]}${thread}`;
  }

  function timelineRow(index) {
    const step = firstStep + index;
    const row = el("div", `kind-${KINDS[kinds[index]] || "?"}`, timelineText(index));
    row.title = row.textContent; // the whole name, however narrow the panel
    if (step === current) row.classList.add("current");
    if (step === data.failure_step) row.classList.add("failure");
    if (data.divergence && step === data.divergence.step) row.classList.add("divergence");
    row.addEventListener("click", () => go(step));
    return row;
  }

  // The timeline panel as wide as its widest row, within what leaves the source and state
  // panels their minimum widths (main's grid in viewer.css); the user can resize it.
  function fitTimeline() {
    const panel = byId("timeline-panel");
    const list = byId("timeline");
    stepChars = String(lastStep).length;
    kindChars = Math.max(...KINDS.map((name) => name.length));
    let widest = 0;
    for (let index = 0; index < kinds.length; index++) {
      widest = Math.max(widest, timelineText(index).length);
    }
    if (data.failure_step >= firstStep) {
      const failure = data.failure_step - firstStep;
      widest = Math.max(widest, timelineText(failure).length + MARK_CHARS.failure);
    }
    if (data.divergence && data.divergence.step !== null) {
      const divergence = data.divergence.step - firstStep;
      widest = Math.max(widest, timelineText(divergence).length + MARK_CHARS.divergence);
    }
    const probe = el("span", "", "0".repeat(100));
    probe.style.visibility = "hidden";
    list.append(probe);
    const charWidth = probe.getBoundingClientRect().width / 100;
    probe.remove();
    const borders = panel.offsetWidth - list.clientWidth;
    const wanted = widest * charWidth + ROW_PADDING + borders + SCROLLBAR;
    const room = Math.min(window.innerWidth * 0.5, window.innerWidth - OTHER_COLUMNS);
    panel.style.width = `${Math.ceil(Math.max(TIMELINE_MIN, Math.min(wanted, room)))}px`;
  }

  function sourceRow(index) {
    const row = el("div");
    row.append(el("span", "lineno", index + 1), document.createTextNode(sourceLines[index]));
    if (index + 1 === sourceLine) row.classList.add("current");
    return row;
  }

  function showSource(file, line) {
    if (file !== sourceFile) {
      sourceFile = file;
      const text = hasOwn(data.sources, file) ? data.sources[file] : null;
      sourceLines = text === null ? ["(the source of this file was not recorded)"] :
        String(text).split("\n");
      byId("source-title").textContent = displayFile(file);
      sourceList.setCount(sourceLines.length);
    }
    sourceLine = line;
    sourceList.reveal(Math.max(0, line - 1));
  }

  // Rebound at this step, or holding an object that changed at this step.
  function changedNames(event, frame, isEventFrame) {
    const payload = event[6] || {};
    const names = new Set();
    if (isEventFrame && payload.l) for (const key of Object.keys(payload.l)) names.add(key);
    for (const [outerNo, , changed] of payload.o || []) {
      if (outerNo === frame.frameNo) for (const key of Object.keys(changed || {})) names.add(key);
    }
    const objects = new Set((payload.b || []).map((entry) => entry[0]));
    for (const key of Object.keys(frame.raw)) {
      const form = frame.raw[key];
      if (isObject(form) && objects.has(form.$ref)) names.add(key);
    }
    return names;
  }

  function render() {
    const state = stateAt(current);
    const { event, stack, watched } = state;
    shown = { step: current, ...state };
    const frameIndex = selectedFrame >= 0 && selectedFrame < stack.length ?
      selectedFrame : stack.length - 1;
    const frame = stack[frameIndex];
    const kind = KINDS[event[1]];
    const [qualname] = code(event[4]);
    byId("position").textContent =
      `step ${current} of ${lastStep} \u00B7 ${kind} ${qualname}:${event[5]}`;
    byId("scrubber").value = String(current);
    byId("step-input").value = String(current);

    const stackList = byId("stack");
    stackList.replaceChildren(...stack.map((item, index) => {
      const [name, file] = code(item.codeNo);
      const li = el("li", index === frameIndex ? "selected" : "",
        `${name}  ${displayFile(file)}:${item.line}`);
      li.addEventListener("click", () => { selectedFrame = index; render(); });
      return li;
    }));

    const [frameName, frameFile] = code(frame.codeNo);
    byId("locals-title").textContent = `Locals of ${frameName}`;
    const changed = changedNames(event, frame, frameIndex === stack.length - 1);
    const localsBox = byId("locals");
    const all = Object.keys(frame.locals);
    const names = showTemporaries ? all : all.filter((name) => !isTemporary(name));
    localsBox.replaceChildren(...names.map((name) =>
      valueRow(name, frame.locals[name], `${frame.frameNo}\u0000${name}`, changed.has(name))));
    if (!all.length) localsBox.append(el("div", "note", "(no locals recorded)"));
    if (names.length < all.length) {
      localsBox.append(el("div", "note",
        `(${all.length - names.length} assertion temporaries hidden: see the checkbox above)`));
    }

    const payload = event[6] || {};
    if (watches) renderWatched(watched, changedWatches(payload, state.rawWatched));
    const eventBox = byId("event-value");
    eventBox.replaceChildren();
    if (hasOwn(payload, "x")) {
      eventBox.append(el("h2", "exception", `Exception (${kind})`),
        el("div", "exception exception-line", exceptionLine(state.exception)),
        valueRow("attributes", state.exception, "exception", false));
    }
    if (hasOwn(payload, "r") && (event[1] === RETURN || event[1] === YIELD)) {
      eventBox.append(el("h2", "", event[1] === RETURN ? "Returned" : "Yielded"),
        valueRow(event[1] === RETURN ? "return value" : "yielded", state.returned, "return",
          false));
    }
    showSource(frameFile, frame.line);
    renderAlignedNow();
    renderDiffNow();
    timelineList.reveal(current - firstStep);
    document.body.dataset.step = String(current);
  }

  // Watched anew at this step, or holding an object that changed at this step.
  function changedWatches(payload, raw) {
    const changed = new Set(Object.keys(payload.w || {}));
    const objects = new Set((payload.b || []).map((entry) => entry[0]));
    for (const key of Object.keys(raw)) {
      if (isObject(raw[key]) && objects.has(raw[key].$ref)) changed.add(key);
    }
    return changed;
  }

  // Shown like locals; a name is marked at the steps that recorded a change in it.
  function renderWatched(watched, changed) {
    const box = byId("watched");
    const names = Object.keys(watched);
    box.replaceChildren(...names.map((name) =>
      valueRow(name, watched[name], `watched\u0000${name}`, changed.has(name))));
    if (!names.length) box.append(el("div", "note", "(nothing watched yet)"));
  }

  // ---- where did this value come from ------------------------------------------------
  // replay/reading/value_history.py's rules, which --history, the prompt and the debug adapter
  // share: a local holding an object (a reference) follows the object through every frame
  // and thread, read again at each step that recorded objects; any other local is read in
  // a frame of the same function at the same depth of its thread.
  function pyRepr(key) { // Python's repr of a dict key the path names (str, int, bool, None)
    if (key === null) return "None";
    if (key === true || key === false) return key ? "True" : "False";
    if (typeof key === "number") return String(key);
    const quote = key.includes("'") && !key.includes('"') ? '"' : "'";
    const escapes = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", [quote]: "\\" + quote };
    let out = "";
    for (const ch of key) {
      const point = ch.codePointAt(0);
      if (hasOwn(escapes, ch)) out += escapes[ch];
      else if (point < 0x20 || (point >= 0x7f && point < 0xa0)) {
        out += "\\x" + point.toString(16).padStart(2, "0");
      } else out += ch;
    }
    return quote + out + quote;
  }

  const scalarKey = (key) => key === null || typeof key === "string" ||
    typeof key === "boolean" || Number.isInteger(key);

  // A form's parts with the path syntax that reaches each (replay/reading/references.py's _parts).
  function formParts(form, container) {
    const parts = [];
    if (Array.isArray(form)) {
      form.forEach((item, index) => parts.push([`[${index}]`, item]));
    } else if (isObject(form) && !hasOwn(form, "$type")) {
      for (const key of Object.keys(form)) {
        if (!MARKS.includes(key)) parts.push([`[${pyRepr(key)}]`, form[key]]);
      }
    } else if (isObject(form)) {
      if (isObject(form.attrs)) {
        for (const key of Object.keys(form.attrs)) parts.push(["." + key, form.attrs[key]]);
      }
      const kind = CONTAINERS[container];
      if (Array.isArray(form.items) && kind !== "set") { // a set is not subscripted
        form.items.forEach((item, index) => {
          if (kind !== "mapping") parts.push([`[${index}]`, item]);
          else if (Array.isArray(item) && item.length === 2 && scalarKey(item[0])) {
            parts.push([`[${pyRepr(item[0])}]`, item[1]]);
          }
        });
      }
    }
    return parts;
  }

  const refNumber = (form) => (isObject(form) && Object.keys(form).length === 1 &&
    Number.isInteger(form.$ref) ? form.$ref : null);

  // The shortest path from roots (a frame's locals) to object ``number`` (references.path_to).
  function pathTo(objects, roots, number) {
    const queue = Object.keys(roots).map((name) => [name, roots[name], 0]);
    const visited = new Set();
    let budget = RESOLVE_NODES;
    for (let head = 0; head < queue.length && budget > 0; head++) {
      budget -= 1;
      let [text, form, depth] = queue[head];
      let container = null;
      const found = refNumber(form);
      if (found !== null) {
        if (found === number) return text;
        const entry = objects.get(found);
        if (visited.has(found) || !entry) continue;
        visited.add(found);
        [, , form, , container] = entry;
      }
      if (depth < RESOLVE_DEPTH) {
        for (const [key, child] of formParts(form, container)) {
          queue.push([text + key, child, depth + 1]);
        }
      }
    }
    return null;
  }

  function seenAt(replay, thread, number, rest) {
    const stack = replay.threads.get(thread) || [];
    for (let depth = stack.length - 1; depth >= 0; depth--) {
      const found = pathTo(replay.objects, stack[depth].locals, number);
      if (found !== null) return { function: code(stack[depth].codeNo)[0], path: found + rest };
    }
    const found = pathTo(replay.objects, replay.watched, number);
    return found === null ? null : { function: null, path: found + rest };
  }

  function seenText(seen) { // value_history.seen_text
    if (seen === null) return "held by no frame of its thread";
    if (seen.function === null) return `as the watched ${seen.path}`;
    return `as ${seen.path} in ${seen.function}`;
  }

  // Where the history of a row starts: its frame (function, depth, thread) and the object
  // its local holds, if any.
  function historyHolder(path) {
    const [frameText, name, ...labels] = path.split("\u0000");
    const depth = shown.stack.findIndex((frame) => frame.frameNo === Number(frameText));
    const frame = shown.stack[depth];
    return { name, labels, depth, thread: shown.event[2], function: code(frame.codeNo)[0],
      number: refNumber(frame.raw[name]) };
  }

  function valueHistory(path) {
    const where = historyHolder(path);
    const rest = where.labels.map((label) => (label.startsWith('"') ?
      `[${pyRepr(JSON.parse(label))}]` : label)).join("");
    const at = (value) => {
      for (const label of where.labels) {
        const child = value === undefined ? null :
          (childrenOf(value) || []).find(([key]) => key === label);
        value = child ? child[1] : undefined;
      }
      return value;
    };
    const changes = [];
    const before = new Map(); // each thread's step before, as what ran
    let last = undefined, lastText = undefined;
    for (const chunk of chunks) {
      const replay = new Replay(chunk.keyframe);
      let fresh = true;
      for (const event of chunk.events) {
        const stack = replay.apply(event);
        const [step, kind, thread, , codeNo, line, rawPayload] = event;
        const payload = rawPayload || {};
        let present = false, value;
        if (where.number !== null) {
          const entry = replay.objects.get(where.number);
          if ((fresh || (payload.b || []).length) && entry && entry[2] !== null &&
              entry[2] !== undefined) {
            present = true;
            value = at(resolver(replay.objects)({ $ref: where.number }));
          }
        } else if (thread === where.thread && stack.length > where.depth &&
                   code(stack[where.depth].codeNo)[0] === where.function) {
          present = true;
          const names = { ...replay.watched, ...stack[where.depth].locals };
          value = hasOwn(names, where.name) ? at(resolver(replay.objects)(names[where.name])) :
            undefined;
        }
        fresh = false;
        const [name, file] = code(codeNo);
        const outer = stack.length > 1 ? stack[stack.length - 2] : null;
        const place = { step, kind, here: [name, file, line],
          caller: outer ? [code(outer.codeNo)[0], code(outer.codeNo)[1], outer.line] : null };
        const text = value === undefined ? undefined : JSON.stringify(value);
        if (present && text !== lastText) {
          const earlier = before.get(thread);
          let ran = null;
          if (earlier) { // value_history._ran_between
            ran = earlier.here;
            if (ENTERING.has(kind)) ran = place.caller || earlier.here;
            else if (LEAVING.has(earlier.kind)) ran = earlier.caller || place.here;
          }
          changes.push({
            step, old: last, new: value,
            by: ran && { afterStep: earlier.step, function: ran[0], file: ran[1], line: ran[2] },
            seen: where.number === null ? null : seenAt(replay, thread, where.number, rest),
          });
          last = value;
          lastText = text;
        }
        before.set(thread, place);
      }
    }
    return { following: where.number !== null, changes };
  }

  function showHistory(path) {
    const [, name, ...labels] = path.split("\u0000");
    const shownPath = name + labels.join("");
    const { following, changes } = valueHistory(path);
    const title = byId("history-title");
    const box = byId("history");
    title.textContent = `History of ${shownPath} (${changes.length} change${
      changes.length === 1 ? "" : "s"}${following ? "; the object, in every frame that holds it" :
      ""})`;
    const text = (value) => (value === undefined ? "(absent)" : shortText(value));
    box.replaceChildren(...changes.map((change) => {
      let line = `step ${change.step}: ${text(change.old)} \u2192 ${text(change.new)}`;
      if (following) line += ` (${seenText(change.seen)})`;
      if (change.by) {
        line += ` \u00B7 after step ${change.by.afterStep}, in ${change.by.function} at ` +
          `${displayFile(change.by.file)}:${change.by.line}`;
      }
      const row = el("div", "history-row", line);
      row.dataset.step = String(change.step);
      if (following) row.dataset.seen = seenText(change.seen);
      if (change.by) row.dataset.by = `${change.by.function}:${change.by.line}`;
      row.addEventListener("click", () => go(change.step));
      return row;
    }));
    title.hidden = box.hidden = false;
    title.scrollIntoView({ block: "nearest" });
  }

  function go(step) {
    const target = Math.min(lastStep, Math.max(firstStep, Math.trunc(step)));
    if (!Number.isFinite(target)) return;
    if (target !== current) selectedFrame = -1;
    current = target;
    render();
  }

  // Step over and out follow the stack depth within the current step's thread.
  function seek(direction, accept) {
    const index = current - firstStep;
    const depth = depths[index], thread = threads[index];
    for (let i = index + direction; i >= 0 && i < kinds.length; i += direction) {
      if (threads[i] === thread && accept(depths[i], depth)) return firstStep + i;
    }
    return direction > 0 ? lastStep : firstStep;
  }

  const moves = {
    next: () => go(current + 1),
    back: () => go(current - 1),
    over: () => go(seek(1, (d, here) => d <= here)),
    backOver: () => go(seek(-1, (d, here) => d <= here)),
    out: () => go(seek(1, (d, here) => d < here)),
    backOut: () => go(seek(-1, (d, here) => d < here)),
    first: () => go(firstStep),
    last: () => go(lastStep),
    failure: () => go(data.failure_step || data.open_step || lastStep),
  };

  function onKey(event) {
    if (event.target instanceof HTMLInputElement && event.target.type === "number") return;
    const shift = event.shiftKey;
    const action = {
      ArrowRight: shift ? "over" : "next",
      ArrowLeft: shift ? "backOver" : "back",
      ArrowDown: shift ? "out" : null,
      ArrowUp: shift ? "backOut" : null,
      Home: "first",
      End: "last",
      f: "failure",
      F: "failure",
    }[event.key];
    if (!action) return;
    event.preventDefault();
    moves[action]();
  }

  // ``found``: a diff or divergence; its notes say what was cut short or set aside.
  function changeTable(changes, omitted, found) {
    const box = el("div");
    const head = el("div", "change-row change-head");
    head.append(el("span", "", "where"), el("span", "", "change"), el("span", "", "this run"),
      el("span", "", "passing run"));
    box.append(head);
    for (const change of changes) {
      const row = el("div", "change-row");
      const where = change.frame === null ? change.path : `${change.frame}: ${change.path}`;
      row.append(el("span", "name", where), el("span", "", change.change),
        el("span", "", shortText(change.this)), el("span", "", shortText(change.against)));
      box.append(row);
    }
    if (!changes.length) box.append(el("div", "note", "no differences"));
    if (omitted) box.append(el("div", "note", `and ${omitted} more`));
    if (found.cut && found.cut.length) {
      box.append(el("div", "note", `the comparison stopped at its limit in ${
        found.cut.join(", ")}: more may differ there`));
    }
    if (found.set_aside && found.set_aside.length) {
      box.append(el("div", "note", "set aside, not differences: " + found.set_aside.map(
        (r) => `${r.frame === null ? r.path : `${r.frame}: ${r.path}`} (${r.reason})`).join(", ")));
    }
    return box;
  }

  function stepLink(step) {
    const link = el("a", "step-link", `step ${step}`);
    link.addEventListener("click", () => go(step));
    return link;
  }

  function comparisonTitle() {
    const against = data.diff ?
      data.against_build || `run ${data.diff.against} attempt ${data.diff.attempt}` : null;
    if (!against) return "Compared with the last passing run";
    return data.against_choice && data.against_choice !== "last-pass" ?
      `Compared with ${against}` : `Compared with the last passing run: ${against}`;
  }

  // The other run's step matched with ``step`` (replay.comparing.align's Alignment.counterpart).
  function counterpart(step) {
    let found = null;
    for (const segment of data.alignment) {
      if (segment[0] > step) break;
      found = segment;
    }
    if (found === null) return null;
    const [start, other, length] = found;
    return step < start + length ? [other + step - start, true] : [other + length - 1, false];
  }

  // The step nearest to ``step`` whose diff the page holds (the later one on a tie).
  function nearestDiffed(step) {
    let low = 0, high = diffedSteps.length - 1;
    while (low < high) { // the first held step at or after ``step``
      const middle = (low + high) >> 1;
      if (diffedSteps[middle] < step) low = middle + 1;
      else high = middle;
    }
    const after = diffedSteps[low];
    if (after <= step || low === 0) return after; // none after it, or none before it
    const before = diffedSteps[low - 1];
    return after - step <= step - before ? after : before;
  }

  // The diff at the step on screen. A long test holds the diffs of some steps only
  // (html_view.diffed_steps: around the step the page opened at and the first divergence,
  // and spread between): at the others, the page says so and links the nearest.
  function renderDiffNow() {
    const box = byId("diff-now");
    if (!box) return;
    const key = String(current);
    const diff = hasOwn(stepDiffs, key) ? stepDiffs[key] : null;
    const line = el("div");
    if (diff === null) {
      line.className = "note";
      line.append(document.createTextNode(`No comparison computed for step ${current} ` +
        `(this page holds the diffs of ${diffedSteps.length} of its ${lastStep - firstStep + 1}` +
        " steps); nearest: "), stepLink(nearestDiffed(current)));
      box.replaceChildren(line);
      return;
    }
    line.append(document.createTextNode("At "), stepLink(current),
      document.createTextNode(` against run ${diff.against} attempt ${diff.attempt}, ` +
        `step ${diff.step}${diff.exact ? "" : " (the last step both did alike)"}:`));
    box.replaceChildren(line, changeTable(diff.changes, diff.omitted, diff));
  }

  function renderAlignedNow() {
    const box = byId("aligned-now");
    if (!data.alignment || !data.diff) return;
    const match = counterpart(current);
    box.textContent = match === null ?
      `Step ${current} has no counterpart in run ${data.diff.against} (work only this run did)` :
      `Step ${current} on screen is step ${match[0]} of run ${data.diff.against}` +
        (match[1] ? " (the same step)" : " (the last step both did alike)");
  }

  function renderComparison() {
    byId("compare-title").textContent = comparisonTitle();
    const box = byId("compare");
    box.append(el("div", "aligned-now", ""));
    box.lastChild.id = "aligned-now";
    if (data.note) box.append(el("div", "note", data.note));
    const diff = data.diff;
    if (diff && diff.plans) box.append(el("div", "note", `Note: ${diff.plans}`));
    if (diff) { // first: the diff at the step on screen, then where the runs part ways
      const diffBox = el("div");
      diffBox.id = "diff-now";
      box.append(diffBox);
    }
    const divergence = data.divergence;
    if (divergence) {
      const line = el("div");
      if (divergence.by === null) {
        line.textContent = "The two recordings never part ways.";
      } else {
        line.append(document.createTextNode(`First divergence (by ${divergence.by}): `));
        if (divergence.step !== null) line.append(stepLink(divergence.step));
        else line.append(document.createTextNode("after this run ended"));
        line.append(document.createTextNode(divergence.against_step === null ?
          ", after the passing run ended" : `, step ${divergence.against_step} of the passing run`));
      }
      box.append(line);
      if (divergence.by !== null) {
        box.append(changeTable(divergence.changes, divergence.omitted, divergence));
      }
    }
    if (!data.note && !diff && !divergence) {
      box.append(el("div", "note", "no passing recording was compared"));
    }
  }

  function renderHeading() {
    const outcome = byId("outcome");
    outcome.textContent = data.outcome;
    outcome.classList.add(data.outcome === "failed" ? "failed" : "other");
    byId("test-id").textContent = data.test;
    const facts = [`run ${data.run}`, `attempt ${data.attempt}`, `${data.steps} steps`];
    if (data.failure_step) facts.push(`failed at step ${data.failure_step}`);
    if (data.dropped_steps) {
      facts.push(`steps 1-${data.first_step - 1} not kept (ring buffer or artifact budget)`);
    }
    if (data.incomplete) facts.push(`recording incomplete: ${data.incomplete}`);
    facts.push(data.generator);
    byId("facts").textContent = facts.join(" \u00B7 ");
  }

  function bindControls() {
    const buttons = {
      "go-first": "first", "go-back-out": "backOut", "go-back-over": "backOver",
      "go-back": "back", "go-next": "next", "go-over": "over", "go-out": "out",
      "go-last": "last", "go-failure": "failure",
    };
    for (const [id, action] of Object.entries(buttons)) {
      byId(id).addEventListener("click", () => moves[action]());
    }
    const scrubber = byId("scrubber");
    scrubber.min = String(firstStep);
    scrubber.max = String(lastStep);
    let pending = false;
    scrubber.addEventListener("input", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; go(Number(scrubber.value)); });
    });
    const input = byId("step-input");
    input.min = String(firstStep);
    input.max = String(lastStep);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") go(Number(input.value));
    });
    document.addEventListener("keydown", onKey);
    const temporaries = byId("show-temporaries");
    showTemporaries = temporaries.checked = Boolean(data.assertion_temporaries);
    temporaries.addEventListener("change", () => {
      showTemporaries = temporaries.checked;
      render();
    });
  }

  function publicState() {
    const { event, stack, watched } = shown;
    const frames = stack.map((frame) => {
      const [qualname, file] = code(frame.codeNo);
      const locals = Object.fromEntries(Object.entries(frame.locals)
        .filter(([name]) => showTemporaries || !isTemporary(name)));
      return { function: qualname, file, line: frame.line, locals };
    });
    return JSON.parse(JSON.stringify({
      step: shown.step,
      event: { kind: KINDS[event[1]], function: code(event[4])[0], file: code(event[4])[1],
        line: event[5], thread: event[2] },
      stack: frames,
      exception: shown.exception,
      return_value: shown.returned,
      watched: { ...watched },
    }));
  }

  async function main() {
    const started = performance.now();
    data = JSON.parse(byId("scope-data").textContent);
    readFormat(data.trace_format);
    readFacts(data.format_facts);
    const text = await inflate(data.chunks);
    const inflated = performance.now();
    const raw = JSON.parse(text);
    const parsed = performance.now();
    chunks = raw.map(([first, keyframe, events]) => ({ first, keyframe, events }));
    if (!chunks.length) throw new Error("this recording holds no steps");
    chunkFirsts = chunks.map((chunk) => chunk.first);
    firstStep = chunks[0].first;
    const lastChunk = chunks[chunks.length - 1];
    lastStep = lastChunk.events[lastChunk.events.length - 1][0];
    if (data.step_diffs) {
      stepDiffs = JSON.parse(await inflate(data.step_diffs));
      diffedSteps = Object.keys(stepDiffs).map(Number).sort((a, b) => a - b);
    }
    buildTimeline();
    byId("watched-title").hidden = !watches;
    byId("watched").hidden = !watches;
    const built = performance.now();
    renderHeading();
    fitTimeline();
    timelineList = new VirtualList(byId("timeline"), timelineRow);
    sourceList = new VirtualList(byId("source"), sourceRow);
    timelineList.setCount(lastStep - firstStep + 1);
    bindControls();
    renderComparison();
    const fromHash = /^#step=(\d+)$/.exec(location.hash);
    go(fromHash ? Number(fromHash[1]) : data.open_step || lastStep);
    window.scopeViewer = {
      step: () => current, go, state: publicState, loadMs: performance.now() - started,
      timings: { inflate: inflated - started, parse: parsed - inflated, timeline: built - parsed },
      firstStep, lastStep,
    };
    document.body.classList.add("ready");
  }

  main().catch((error) => {
    byId("loading").textContent = `This viewer cannot show the recording: ${error.message}`;
    document.body.dataset.error = String(error.message);
  });
})();
