"""The scripts the browser sandbox runs in its pages (sent into the container ahead of ``page.py``, as one program):
reading a page as labelled nodes, and applying the perturbations to it."""

# Labels every visible element a person can act on, in document order, and reads the page as a flat list of nodes:
# controls (with their label, role, accessible name, value, box in viewport pixels) and the text around them.
READ_JS = r"""
() => {
  const W = window.innerWidth, H = window.innerHeight;
  if (window.__lbNext === undefined) window.__lbNext = 1;
  const norm = s => (s || '').replace(/\s+/g, ' ').trim();
  const vis = el => el.checkVisibility ? el.checkVisibility({checkVisibilityCSS: true}) : el.getClientRects().length > 0;
  const isControl = el => {
    const t = el.tagName;
    if (t === 'A') return el.hasAttribute('href');
    if (t === 'INPUT') return el.type !== 'hidden';
    return t === 'BUTTON' || t === 'SELECT' || t === 'TEXTAREA' || el.getAttribute('role') === 'button';
  };
  const roleOf = el => {
    const t = el.tagName, ty = (el.type || '').toLowerCase();
    if (t === 'A') return 'link';
    if (t === 'BUTTON' || ty === 'submit' || ty === 'button' || el.getAttribute('role') === 'button') return 'button';
    if (t === 'SELECT') return 'combobox';
    if (ty === 'checkbox') return 'checkbox';
    if (ty === 'radio') return 'radio';
    return 'textbox';
  };
  const nameOf = el => {
    const aria = el.getAttribute('aria-label');
    if (aria) return norm(aria);
    if (el.labels && el.labels.length) return norm(el.labels[0].innerText);
    const t = el.tagName;
    if (t === 'A' || t === 'BUTTON' || el.getAttribute('role') === 'button') return norm(el.innerText || el.value);
    return norm(el.getAttribute('placeholder') || el.getAttribute('title') || el.name || '');
  };
  const boxOf = el => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || r.right <= 0 || r.bottom <= 0 || r.left >= W || r.top >= H) return null;
    return [Math.max(0, Math.round(r.left)), Math.max(0, Math.round(r.top)),
            Math.min(W, Math.round(r.right)), Math.min(H, Math.round(r.bottom))];
  };
  const nodes = [];
  const control = (el, depth) => {
    if (!el.dataset.lb) el.dataset.lb = String(window.__lbNext++);
    const role = roleOf(el);
    const n = {t: 'control', label: el.dataset.lb, role: role, name: nameOf(el), depth: depth, box: boxOf(el)};
    if (role === 'textbox') n.value = el.value;
    if (role === 'combobox') {
      n.options = Array.from(el.options).map(o => norm(o.text));
      n.value = el.selectedIndex >= 0 ? norm(el.options[el.selectedIndex].text) : '';
    }
    if (role === 'checkbox' || role === 'radio') n.checked = !!el.checked;
    if (el.disabled) n.disabled = true;
    const form = el.form || el.closest('form');
    if (form && (form.method || '').toLowerCase() === 'post'
        && (role === 'button' ? (el.type || 'submit') === 'submit' : role === 'textbox' && el.tagName === 'INPUT'))
      n.submits = true;
    if (document.activeElement === el) n.focused = true;
    nodes.push(n);
  };
  const inner = (el, depth) => el.querySelectorAll('a[href],button,input,select,textarea,[role=button]')
    .forEach(c => { if (isControl(c) && vis(c)) control(c, depth); });
  const walk = (el, depth) => {
    if (!vis(el)) return;
    const t = el.tagName, role = el.getAttribute('role');
    if (t === 'SCRIPT' || t === 'STYLE' || t === 'LABEL' || t === 'OPTION') return;
    if (isControl(el)) { control(el, depth); return; }
    if (role === 'dialog') {
      nodes.push({t: 'dialog', name: norm(el.getAttribute('aria-label')), depth: depth, box: boxOf(el)});
      for (const c of el.children) walk(c, depth + 1);
      return;
    }
    if (t === 'TR') {
      const cells = Array.from(el.cells).map(c => norm(c.innerText));
      nodes.push({t: el.querySelector('th') && !el.querySelector('td') ? 'header' : 'row', text: cells.join(' | '),
                  depth: depth});
      inner(el, depth + 1);
      return;
    }
    if (/^H[1-6]$/.test(t)) { nodes.push({t: 'heading', text: norm(el.innerText), depth: depth}); inner(el, depth + 1); return; }
    if (t === 'P' || t === 'PRE' || t === 'LI' || t === 'DT' || t === 'DD' || t === 'CAPTION') {
      const kids = Array.from(el.querySelectorAll('a[href],button,input,select,textarea,[role=button]'));
      if (kids.length && norm(el.innerText) === norm(kids.map(k => k.innerText || '').join(' '))) {
        inner(el, depth);  // only controls: they say it all
        return;
      }
      nodes.push({t: role === 'status' || role === 'alert' ? role : 'text', text: t === 'PRE' ? el.innerText : norm(el.innerText),
                  depth: depth});
      inner(el, depth + 1);
      return;
    }
    let own = '';
    for (const c of el.childNodes) if (c.nodeType === 3) own += c.textContent;
    own = norm(own);
    if (own) nodes.push({t: 'text', text: own, depth: depth});
    const deeper = t === 'SECTION' || t === 'FORM' || t === 'NAV' ? depth + 1 : depth;
    for (const c of el.children) walk(c, deeper);
  };
  walk(document.body, 0);
  const f = document.activeElement;
  if (!window.__lbDoc) window.__lbDoc = Math.random().toString(36).slice(2);
  return {url: location.href, title: document.title, nodes: nodes, doc: window.__lbDoc,
          focused: f && f.dataset && f.dataset.lb ? f.dataset.lb : null,
          scroll: [Math.round(window.scrollX), Math.round(window.scrollY),
                   Math.round(document.documentElement.scrollHeight)]};
}
"""

# What the harness's perturbations do to a page (idempotent: applied again after every action): sections of <main>
# reordered by CSS ``order`` (seeded per page path), buttons, links and field labels renamed, the page's content
# hidden behind "Loading…", a distractor dialog.
DECOR_JS = r"""
(d) => {
  const main = document.querySelector('main');
  if (d.order !== null && d.order !== undefined && main) {
    let h = 2166136261 >>> 0;
    const key = String(d.order) + location.pathname;
    for (let i = 0; i < key.length; i++) { h ^= key.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
    const rnd = () => { h = (h + 0x6D2B79F5) >>> 0; let t = h; t = Math.imul(t ^ (t >>> 15), t | 1);
                        t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
    const secs = Array.from(main.children);
    const idx = secs.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [idx[i], idx[j]] = [idx[j], idx[i]]; }
    secs.forEach((s, i) => { s.style.order = String(idx[i]); });
  }
  if (d.relabel) {
    document.querySelectorAll('button, a, label').forEach(el => {
      const has = k => Object.prototype.hasOwnProperty.call(d.relabel, k);
      const aria = el.getAttribute('aria-label');
      if (aria && has(aria)) el.setAttribute('aria-label', d.relabel[aria]);
      if (el.children.length === 0) {
        const t = el.textContent.trim();
        if (has(t)) el.textContent = d.relabel[t];
      }
    });
  }
  if (main) {
    let load = document.getElementById('lb-loading');
    if (d.loading) {
      main.style.visibility = 'hidden';
      if (!load) { load = document.createElement('p'); load.id = 'lb-loading'; load.setAttribute('role', 'status');
                   load.textContent = 'Loading…'; main.parentNode.insertBefore(load, main); }
    } else {
      main.style.visibility = '';
      if (load) load.remove();
    }
  }
  let pop = document.getElementById('lb-popup');
  if (d.popup && !pop && !window.__lbPopupClosed) {
    pop = document.createElement('div');
    pop.id = 'lb-popup';
    pop.style.cssText = 'position:fixed;inset:0;background:rgba(0,0,0,.35);z-index:2147483647;display:flex;' +
                        'align-items:center;justify-content:center';
    const box = document.createElement('div');
    box.setAttribute('role', 'dialog'); box.setAttribute('aria-label', 'Software update'); box.setAttribute('aria-modal', 'true');
    box.style.cssText = 'background:#fff;padding:1.5em;border:1px solid #888;min-width:320px;font-family:sans-serif';
    const p = document.createElement('p'); p.textContent = 'A software update is ready. Restart now to install it?';
    box.appendChild(p);
    for (const [text, id] of [['Restart now', 'restart'], ['Later', 'later']]) {
      const b = document.createElement('button'); b.type = 'button'; b.textContent = text; b.style.marginRight = '1em';
      b.onclick = () => { window.__lbPopupClosed = id; pop.remove(); };
      box.appendChild(b);
    }
    pop.appendChild(box);
    document.body.appendChild(pop);
  } else if (!d.popup && pop) {
    pop.remove();
  }
  return window.__lbPopupClosed || null;
}
"""

DECOR_READ_JS = ("(d) => { const closed = (" + DECOR_JS.strip() + ")(d); const snap = (" + READ_JS.strip()
                 + ")(); snap.popup_closed = closed; return snap; }")
"""Both in one call: the perturbations applied, then the page read (one round trip to the page)."""

PICK_JS = r"""
(s, o) => {
  const n = x => x.replace(/\s+/g, ' ').trim().toLowerCase();
  const opts = Array.from(s.options);
  let i = opts.findIndex(x => n(x.text) === n(o));
  return i >= 0 ? i : opts.findIndex(x => x.value === o);
}
"""
