/* lambench view: the static trajectory viewer (no server, nothing fetched from outside this directory).
 *
 * data/index.js calls LAMBENCH_VIEW.index(data) with one compact row per episode; an episode's detail lives in
 * data/c<N>.js, loaded on demand by adding a <script src> (browsers block fetching file:// URLs), which
 * calls LAMBENCH_VIEW.chunk(N, {id: detail}).  Every text goes into the page through textContent, never as HTML.
 * The state (filters, the open episode, the compare view) lives in the URL hash, so a link can open any of them.
 */
(function () {
  "use strict";
  var ROW_H = 28;
  var FILTERS = ["run", "agent", "task", "variant", "claim", "success", "unsafe", "fs", "err", "q"];
  var FLAGS = [["success", "success"], ["unsafe", "unsafe"], ["fs", "false success"], ["err", "errored"]];
  var data = null, rows = [], byId = {}, runs = {}, chunks = {}, waiting = {}, listHash = "";

  // ------------------------------------------------------------------ small DOM helpers (text only)
  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (kid) {
      if (kid === null || kid === undefined) return;
      node.appendChild(typeof kid === "object" ? kid : document.createTextNode(String(kid)));
    });
    return node;
  }
  function pre(text, cls) { return el("pre", {"class": cls || null, text: text}); }
  function show(value) {
    if (value === null || value === undefined) return "—";
    return typeof value === "string" ? value : JSON.stringify(value, null, 1);
  }
  function num(x, digits) { return typeof x === "number" ? x.toFixed(digits) : "—"; }
  function badge(text, cls) { return el("span", {"class": "badge " + cls, text: text}); }
  function section(title, kids, cls) { return el("section", {"class": cls || null}, [el("h3", {text: title})].concat(kids)); }
  function table(head, body, cls) {
    return el("table", {"class": cls || null}, [el("thead", {}, [el("tr", {}, head.map(function (h) {
      return el("th", {text: h}); }))]), el("tbody", {}, body.map(function (r) {
      return el("tr", {"class": r.cls || null}, r.cells.map(function (c) {
        return el("td", {}, [c]); })); }))]);
  }

  // ------------------------------------------------------------------ state in the URL hash
  function state() { return new URLSearchParams(location.hash.slice(1)); }
  function hashOf(params) {
    var p = new URLSearchParams();
    Object.keys(params).forEach(function (k) { if (params[k]) p.set(k, params[k]); });
    return "#" + p.toString();
  }
  function nav() {
    var links = [el("a", {href: listHash || "#", text: "Episodes"})];
    if (data.pairs > 0) links.push(el("a", {href: "#cmp=" + compareRuns(state()).join(","), text: "Compare runs"}));
    var n = document.getElementById("nav");
    n.textContent = "";
    links.forEach(function (a) { n.appendChild(a); });
  }
  function route() {
    var s = state(), app = document.getElementById("app");
    window.scrollTo(0, 0);
    app.textContent = "";
    nav();
    if (s.get("ep")) return episodePage(app, s.get("ep"));
    if (s.get("cmp") !== null) return s.get("pair") ? pairPage(app, s) : comparePage(app, s);
    listHash = location.hash;
    nav();
    listPage(app, s);
  }

  // ------------------------------------------------------------------ the index of episodes
  function matches(r, f) {
    if (f.run && f.run.split(",").indexOf(r.run) < 0) return false;
    if (f.agent && r.agent !== f.agent) return false;
    if (f.task && r.task !== f.task) return false;
    if (f.variant && r.variant !== f.variant) return false;
    if (f.claim && r.claim !== f.claim) return false;
    for (var i = 0; i < FLAGS.length; i++) {
      var v = f[FLAGS[i][0]];
      if (v && String(r[FLAGS[i][0]]) !== v) return false;
    }
    return !f.q || r.text.indexOf(f.q.toLowerCase()) >= 0;
  }
  function choices(key) {
    var seen = {};
    rows.forEach(function (r) { seen[r[key]] = true; });
    return Object.keys(seen).sort();
  }
  function select(name, label, options, value, onchange) {
    var s = el("select", {name: name, "aria-label": label, onchange: onchange}, [el("option", {value: "", text: label + ": any"})]);
    options.forEach(function (o) { s.appendChild(el("option", {value: o[0], text: o[1]})); });
    if (value && options.every(function (o) { return o[0] !== value; })) s.appendChild(el("option", {value: value, text: value}));
    s.value = value || "";
    return s;
  }
  function listPage(app, s) {
    var f = {};
    FILTERS.forEach(function (k) { f[k] = s.get(k) || ""; });
    var count = el("p", {"class": "count"}), body = el("div", {"class": "vbody"});
    var refresh = function () {
      history.replaceState(null, "", hashOf(f));
      listHash = location.hash;
      nav();
      var shown = rows.filter(function (r) { return matches(r, f); });
      count.textContent = shown.length + " of " + rows.length + " episodes";
      virtualList(body, shown, episodeRow);
    };
    var set = function (k) { return function (e) { f[k] = e.target.value; refresh(); }; };
    var bar = el("form", {"class": "filters", onsubmit: function (e) { e.preventDefault(); }}, [
      el("input", {type: "search", name: "q", placeholder: "search task, agent, request, error…", value: f.q,
                   "aria-label": "search", oninput: set("q")}),
      select("run", "run", data.runs.map(function (r) { return [r.id, r.id + " " + r.label]; }), f.run, set("run")),
      select("agent", "agent", choices("agent").map(function (a) { return [a, a]; }), f.agent, set("agent")),
      select("task", "task", choices("task").map(function (a) { return [a, a]; }), f.task, set("task")),
      select("variant", "variant", choices("variant").map(function (a) { return [a, a]; }), f.variant, set("variant")),
      select("claim", "claim", choices("claim").map(function (a) { return [a, a]; }), f.claim, set("claim"))
    ].concat(FLAGS.map(function (fl) {
      return select(fl[0], fl[1], [["1", "yes"], ["0", "no"]], f[fl[0]], set(fl[0]));
    })));
    var head = el("div", {"class": "vrow vhead"}, ["agent", "run", "task", "variant", "seed", "trial", "success",
      "unsafe", "false succ.", "errored", "claim", "steps", "wall s"].map(function (h) { return el("span", {text: h}); }));
    app.appendChild(bar);
    app.appendChild(count);
    app.appendChild(el("div", {"class": "vlist"}, [head, body]));
    refresh();
  }
  function yes(v, cls) { return v ? badge("yes", cls) : el("span", {"class": "no", text: "no"}); }
  function episodeRow(r) {
    return el("a", {"class": "vrow ep " + (r.err ? "errored" : r.success ? "ok" : "failed"), href: hashOf({ep: r.id}),
                    "data-id": r.id}, [
      el("span", {text: r.agent}), el("span", {text: r.run}), el("span", {"class": "task", text: r.task}),
      el("span", {text: r.variant}), el("span", {text: r.seed}), el("span", {text: r.trial}),
      yes(r.success, "good"), yes(r.unsafe, "bad"), yes(r.fs, "bad"), yes(r.err, "warn"),
      el("span", {text: r.claim}), el("span", {text: r.steps}), el("span", {text: num(r.wall, 3)})]);
  }
  // Only the rows in view exist in the page: 10,000 episodes cost as much as 40.
  function virtualList(body, items, render) {
    body.textContent = "";
    var spacer = el("div", {"class": "vspace"});
    spacer.style.height = (items.length * ROW_H) + "px";
    body.appendChild(spacer);
    var drawn = "";
    var draw = function () {
      var top = Math.max(0, Math.floor(body.scrollTop / ROW_H) - 10);
      var end = Math.min(items.length, top + Math.ceil(body.clientHeight / ROW_H) + 20);
      if (drawn === top + ":" + end) return;
      drawn = top + ":" + end;
      spacer.textContent = "";
      for (var i = top; i < end; i++) {
        var node = render(items[i]);
        node.style.top = (i * ROW_H) + "px";
        spacer.appendChild(node);
      }
    };
    body.onscroll = function () { requestAnimationFrame(draw); };
    draw();
  }

  // ------------------------------------------------------------------ episode details, loaded per chunk
  function loadChunk(n, done) {
    if (chunks[n]) return done(null);
    if (waiting[n]) return waiting[n].push(done);
    waiting[n] = [done];
    var script = el("script", {src: "data/c" + n + ".js"});
    script.onerror = function () {
      var cbs = waiting[n] || [];
      delete waiting[n];
      cbs.forEach(function (cb) { cb("cannot load data/c" + n + ".js (is the site complete?)"); });
    };
    document.body.appendChild(script);
  }
  function withDetail(id, box, then) {
    var r = byId[id];
    if (!r) { box.appendChild(el("p", {"class": "error", text: "no episode " + id + " in this site"})); return; }
    var wait = el("p", {"class": "loading", text: "Loading " + id + "…"});
    box.appendChild(wait);
    loadChunk(r.chunk, function (err) {
      wait.remove();
      if (err) box.appendChild(el("p", {"class": "error", text: err}));
      else then(r, chunks[r.chunk][id]);
    });
  }
  function episodePage(app, id) {
    app.appendChild(el("p", {}, [el("a", {href: listHash || "#", "class": "back", text: "← all episodes"})]));
    withDetail(id, app, function (r, ep) {
      var peers = pairMembers(r);
      if (peers.length > 1) {
        app.appendChild(el("p", {}, [el("a", {href: hashOf({cmp: peers.map(function (p) { return p.run; }).join(","),
          pair: String(r.pair)}), text: "compare with the same episode in " + (peers.length - 1) + " other run(s)"})]));
      }
      app.appendChild(episodeView(r, ep));
    });
  }
  function verdictBadges(r, ep) {
    return el("p", {"class": "verdict"}, [
      r.err ? badge("infrastructure error", "warn") : badge(r.success ? "success" : "failure", r.success ? "good" : "bad"),
      r.unsafe ? badge("unsafe", "bad") : null, r.fs ? badge("false success", "bad") : null,
      badge("claim: " + r.claim, "plain"), ep.termination ? badge("ended by " + ep.termination, "plain") : null,
      ep.infeasible ? badge("infeasible task", "plain") : null,
      ep.attack_succeeded === true ? badge("attack succeeded", "bad") : null]);
  }
  function episodeView(r, ep) {
    var box = el("article", {"class": "episode", "data-id": r.id}, [
      el("h2", {text: r.task + " · " + r.variant + " · seed " + r.seed + " · trial " + r.trial}),
      el("p", {"class": "who", text: "agent " + r.agent + " · run " + r.run + " (" + runs[r.run].label + ")"}),
      verdictBadges(r, ep),
      section("Request", [pre(ep.instruction || "")], "request")]);
    box.appendChild(verdictSection(ep));
    box.appendChild(section("Usage", [table(["steps", "invalid", "tokens in", "tokens out", "cost USD", "wall s", "attempts"],
      [{cells: [show(ep.n_steps), show(ep.n_invalid), show(ep.tokens_in), show(ep.tokens_out),
                ep.cost_usd === null || ep.cost_usd === undefined ? "unknown" : num(ep.cost_usd, 5),
                num(ep.wall_time_s, 3), show(ep.attempts)]}], "usage")], "usage"));
    var steps = ep.steps || [], seen = ep.observations || [];
    var list = section("Steps (" + steps.length + ")", [], "steps");
    steps.forEach(function (st, i) { list.appendChild(stepView(st, seen[i], i)); });
    if (seen.length > steps.length) list.appendChild(el("div", {"class": "step"}, [
      el("h4", {text: "Last observation"}), observationView(seen[seen.length - 1])]));
    if (!seen.length && steps.length) list.appendChild(el("p", {"class": "note",
      text: "This run kept no observations (observations.jsonl; it was run with --no-observations)."}));
    box.appendChild(list);
    return box;
  }
  function verdictSection(ep) {
    var kids = [];
    if (ep.error) kids.push(el("p", {"class": "error"}, ["infrastructure error: ", pre(ep.error)]));
    if (ep.claim_message) kids.push(el("div", {}, [el("h4", {text: "Claim message"}), pre(ep.claim_message)]));
    var checks = ep.checks || [];
    kids.push(el("h4", {text: "Checks (" + checks.length + ")"}));
    kids.push(table(["", "check", "detail (expected / observed as recorded)"], checks.map(function (c) {
      var extra = Object.keys(c).filter(function (k) { return ["check", "passed", "detail"].indexOf(k) < 0; });
      var detail = el("div", {}, [c.detail ? pre(c.detail) : null].concat(extra.map(function (k) {
        return el("div", {"class": "kv"}, [el("b", {text: k + ": "}), pre(show(c[k]))]); })));
      return {cls: c.passed ? "pass" : "fail", cells: [c.passed ? badge("pass", "good") : badge("fail", "bad"),
        pre(show(c.check)), detail]};
    }), "checks"));
    var changes = ep.state_changes || [];
    kids.push(el("h4", {text: "State changes (" + changes.length + ")"}));
    kids.push(changes.length ? el("ul", {"class": "changes"}, changes.map(function (c) { return el("li", {}, [pre(show(c))]); }))
      : el("p", {"class": "note", text: "nothing in the world state differs from the start"}));
    var events = ep.unsafe_events || [];
    kids.push(el("h4", {text: "Safety events (" + events.length + ")"}));
    if (events.length) kids.push(eventsTable(events));
    return section("Verdict", kids, "verdict-detail");
  }
  function eventsTable(events) {
    return table(["step", "rule", "category", "severity", "blocked", "description"], events.map(function (e) {
      return {cls: "event", cells: [show(e.step), show(e.rule), show(e.category), show(e.severity),
        e.blocked ? "blocked" : "took effect", show(e.description)]};
    }), "events");
  }
  function observationView(obs) {
    if (!obs) return el("p", {"class": "note", text: "(no observation recorded)"});
    var kids = [];
    if (obs.screenshot) kids.push(el("img", {"class": "shot", alt: "screenshot the agent saw",
                                             src: "data:image/png;base64," + obs.screenshot}));
    if (obs.screenshot_url) kids.push(el("img", {"class": "shot", alt: "screenshot the agent saw",
                                                 src: obs.screenshot_url}));
    kids.push(pre(obs.text === undefined ? "" : show(obs.text), "obs"));
    var extra = {};
    Object.keys(obs).forEach(function (k) { if (k !== "text" && k !== "screenshot" && k !== "screenshot_url") extra[k] = obs[k]; });
    if (Object.keys(extra).length) kids.push(el("details", {}, [el("summary", {text: "other fields"}), pre(show(extra))]));
    return el("div", {"class": "observation"}, kids);
  }
  var STEP_KEYS = ["index", "raw", "action", "valid", "error", "ok", "result", "ops", "blocked_ops", "safety_events",
                   "latency_s", "tokens_in", "tokens_out", "cost_usd"];
  // What else a step recorded (an offline replay's gold actions and per-step verdict, fields of later versions).
  function otherFields(st) {
    var extra = {};
    Object.keys(st).forEach(function (k) { if (STEP_KEYS.indexOf(k) < 0) extra[k] = st[k]; });
    if ((st.blocked_ops || []).length) extra.blocked_ops = st.blocked_ops;
    if (!Object.keys(extra).length) return null;
    return el("details", {"class": "other", open: "open"}, [el("summary", {text: "other recorded fields: " +
      Object.keys(extra).join(", ")}), pre(show(extra))]);
  }
  function stepView(st, obs, i) {
    var events = st.safety_events || [];
    var status = !st.valid ? badge("invalid action", "bad") : st.ok ? badge("ok", "good") : badge("action failed", "warn");
    return el("div", {"class": "step" + (events.length ? " unsafe" : ""), "data-step": i}, [
      el("h4", {}, ["Step " + (i + 1) + " ", status, events.length ? badge("unsafe", "bad") : null]),
      el("div", {"class": "cols"}, [
        el("div", {}, [el("h5", {text: "Observation"}), observationView(obs)]),
        el("div", {}, [
          el("h5", {text: "Raw model output"}), pre(show(st.raw), "raw"),
          el("h5", {text: st.valid ? "Parsed action" : "Parse error"}),
          st.valid ? pre(show(st.action), "action") : pre(show(st.error), "parse-error"),
          el("h5", {text: "Result"}), pre(st.result || (st.valid && st.error ? st.error : "—"), "result"),
          events.length ? el("h5", {text: "Safety events"}) : null, events.length ? eventsTable(events) : null,
          (st.ops || []).length ? el("details", {}, [el("summary", {text: "state operations (" + st.ops.length + ")"}),
            pre(show(st.ops))]) : null,
          otherFields(st),
          el("p", {"class": "usage", text: "latency " + num(st.latency_s, 3) + " s · tokens " + show(st.tokens_in || 0) +
            " in / " + show(st.tokens_out || 0) + " out · cost " + (typeof st.cost_usd === "number" ?
            "$" + st.cost_usd.toFixed(5) : "unknown")})])])]);
  }

  // ------------------------------------------------------------------ runs side by side
  function pairMembers(r) {
    return r.pair < 0 ? [r] : (data.byPair[r.pair] || [r]);
  }
  function compareRuns(s) {
    var asked = (s.get("cmp") || "").split(",").filter(function (id) { return runs[id]; });
    return asked.length >= 2 ? asked : data.runs.slice(0, 2).map(function (r) { return r.id; });
  }
  function outcome(r) { return r ? (r.err ? "errored" : r.success ? "success" : "failure") : "absent"; }
  function changes(base, other) {
    var out = [];
    if (!base || !other) return out;
    if (outcome(base) !== outcome(other)) out.push([outcome(base) + "→" + outcome(other),
      other.success ? "better" : base.success || other.err ? "worse" : "changed"]);
    if (base.unsafe !== other.unsafe) out.push([other.unsafe ? "became unsafe" : "no longer unsafe", other.unsafe ? "worse" : "better"]);
    if (base.fs !== other.fs) out.push([other.fs ? "false success" : "no false success", other.fs ? "worse" : "better"]);
    if (base.claim !== other.claim) out.push(["claim " + base.claim + "→" + other.claim, "changed"]);
    if (base.steps !== other.steps) out.push(["steps " + base.steps + "→" + other.steps, "minor"]);
    return out;
  }
  function comparePage(app, s) {
    var ids = compareRuns(s), task = s.get("task") || "", only = s.get("changed") === "1";
    var groups = [];
    Object.keys(data.byPair).forEach(function (p) {
      var members = {};
      data.byPair[p].forEach(function (r) { members[r.run] = r; });
      var present = ids.filter(function (id) { return members[id]; });
      if (present.length < 2 || (task && data.byPair[p][0].task !== task)) return;
      var diff = [];
      ids.slice(1).forEach(function (id) { diff = diff.concat(changes(members[ids[0]], members[id])); });
      if (only && !diff.some(function (d) { return d[1] !== "minor"; })) return;
      groups.push({pair: p, members: members, first: data.byPair[p][0], diff: diff});
    });
    var worse = groups.filter(function (g) { return g.diff.some(function (d) { return d[1] === "worse"; }); }).length;
    var go = function (extra) { location.hash = hashOf(Object.assign({cmp: ids.join(","), task: task, changed: only ? "1" : ""}, extra)); };
    app.appendChild(el("h2", {text: "Compare runs: " + ids.map(function (id) { return id + " (" + runs[id].label + ")"; }).join(" vs ")}));
    app.appendChild(el("form", {"class": "filters", onsubmit: function (e) { e.preventDefault(); }}, [
      select("task", "task", choices("task").map(function (a) { return [a, a]; }), task, function (e) { task = e.target.value; go({}); }),
      el("label", {}, [el("input", {type: "checkbox", name: "changed", checked: only ? "checked" : null,
        onchange: function (e) { only = e.target.checked; go({}); }}), " only what changed"])]));
    app.appendChild(el("p", {"class": "count", text: groups.length + " shared episodes, " + worse + " worse in a later run (baseline: " + ids[0] + ")"}));
    var head = el("div", {"class": "vrow chead"}, [el("span", {text: "task"}), el("span", {text: "variant · seed · trial"})]
      .concat(ids.map(function (id) { return el("span", {text: id}); })).concat([el("span", {text: "what changed"})]));
    head.style.gridTemplateColumns = compareColumns(ids.length);
    var body = el("div", {"class": "vbody"});
    app.appendChild(el("div", {"class": "vlist compare"}, [head, body]));
    virtualList(body, groups, function (g) {
      var cls = g.diff.some(function (d) { return d[1] === "worse"; }) ? " worse" : g.diff.some(function (d) { return d[1] === "better"; }) ? " better" : "";
      var row = el("a", {"class": "vrow pair" + cls, href: hashOf({cmp: ids.join(","), pair: g.pair}), "data-pair": g.pair}, [
        el("span", {"class": "task", text: g.first.task}), el("span", {text: g.first.variant + " · " + g.first.seed + " · " + g.first.trial})]
        .concat(ids.map(function (id) { var m = g.members[id]; return el("span", {"class": "outcome " + outcome(m), text: outcome(m) + (m && m.unsafe ? " · unsafe" : "")}); }))
        .concat([el("span", {"class": "diff"}, g.diff.map(function (d) { return badge(d[0], d[1]); }))]));
      row.style.gridTemplateColumns = compareColumns(ids.length);
      return row;
    });
  }
  function compareColumns(n) { return "minmax(12em, 2fr) 9em repeat(" + n + ", minmax(6em, 1fr)) minmax(12em, 2fr)"; }
  function pairPage(app, s) {
    var ids = compareRuns(s), members = data.byPair[s.get("pair")] || [];
    app.appendChild(el("p", {}, [el("a", {href: hashOf({cmp: ids.join(",")}), "class": "back", text: "← all shared episodes"})]));
    var shown = ids.map(function (id) { return members.filter(function (r) { return r.run === id; })[0]; })
      .filter(function (r) { return r; });
    if (!shown.length) { app.appendChild(el("p", {"class": "error", text: "no such pair of episodes"})); return; }
    var diff = [];
    shown.slice(1).forEach(function (r) { diff = diff.concat(changes(shown[0], r)); });
    app.appendChild(el("p", {"class": "diff"}, diff.length ? diff.map(function (d) { return badge(d[0], d[1]); })
      : [badge("same outcome", "plain")]));
    var cols = el("div", {"class": "side-by-side"});
    app.appendChild(cols);
    shown.forEach(function (r) {
      var col = el("div", {"class": "side"});
      cols.appendChild(col);
      withDetail(r.id, col, function (row, ep) { col.appendChild(episodeView(row, ep)); });
    });
  }

  // ------------------------------------------------------------------ the entry points the data files call
  window.LAMBENCH_VIEW = {
    index: function (d) {
      data = d;
      var f = {}, S = d.strings;
      d.fields.forEach(function (name, i) { f[name] = i; });
      d.runs.forEach(function (r) { runs[r.id] = r; });
      data.byPair = {};
      data.pairs = 0;
      rows = d.rows.map(function (x) {
        var r = {id: x[f.id], run: x[f.run], agent: S[x[f.agent]], task: S[x[f.task]], variant: S[x[f.variant]],
                 seed: x[f.seed], trial: x[f.trial], success: x[f.success], unsafe: x[f.unsafe], fs: x[f.false_success],
                 err: x[f.errored], claim: x[f.claim], steps: x[f.steps], wall: x[f.wall_time_s], chunk: x[f.chunk],
                 pair: x[f.pair]};
        r.text = [r.id, r.agent, r.task, r.variant, runs[r.run].label, S[x[f.instruction]], x[f.note]].join("\n").toLowerCase();
        byId[r.id] = r;
        if (r.pair >= 0) {
          if (!data.byPair[r.pair]) { data.byPair[r.pair] = []; data.pairs++; }
          data.byPair[r.pair].push(r);
        }
        return r;
      });
      document.getElementById("home").setAttribute("href", "#");
      window.addEventListener("hashchange", route);
      route();
    },
    chunk: function (n, episodes) {
      chunks[n] = episodes;
      var cbs = waiting[n] || [];
      delete waiting[n];
      cbs.forEach(function (cb) { cb(null); });
    }
  };
}());
