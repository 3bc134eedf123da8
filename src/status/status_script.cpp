// The status page's script: polls /api/status and redraws the page's sections in place. Each function draws
// the same markup as its twin in status_page.cpp, so the page looks the same with or without JavaScript.
#include "status/status_page.h"

namespace xfer::status {

const std::string& status_page_script() {
  static const std::string script = R"JS('use strict';
(function () {
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  const text = (v) => v === null || v === undefined ? '' : typeof v === 'string' ? esc(v)
    : (typeof v === 'number' && !Number.isInteger(v)) ? v.toFixed(4) : esc(JSON.stringify(v));
  const rate = (v) => typeof v === 'number' ? v.toFixed(1) : '–';
  const duration = (v) => {
    if (typeof v !== 'number' || v < 0 || v > 1e7) return '–';
    const s = Math.round(v);
    if (s >= 3600) return Math.floor(s / 3600) + 'h' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
    if (s >= 60) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
    return s + 's';
  };
  const bar = (done, total) => {
    const share = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
    return '<div class="bar"><div style="width:' + (100 * share).toFixed(1) + '%"></div></div>';
  };

  function totals(s) {
    const t = s.totals;
    if (!t) return '<p>No work counted yet.</p>';
    return '<p class="totals"><b>' + text(t.label) + '</b>: <span id="totals-done">' + t.done + '</span> of ' +
      '<span id="totals-total">' + (t.total > 0 ? t.total : '?') + '</span> ' + text(t.unit) + ' · ' +
      '<span id="totals-rate">' + rate(t.items_per_second) + '</span> ' + text(t.unit) + '/s · ETA ' +
      '<span id="totals-eta">' + duration(t.eta_seconds) + '</span></p>' + bar(t.done, t.total);
  }
  function stages(s) {
    let h = '<tr><th>stage</th><th>state</th><th>done</th><th>total</th><th>progress</th><th>rate</th>' +
      '<th>elapsed</th><th>ETA</th></tr>\n';
    for (const st of s.stages || []) {
      h += '<tr class="' + text(st.state) + '"><td>' + text(st.label) + '</td><td>' + text(st.state) + '</td><td>' +
        st.done + '</td><td>' + st.total + '</td><td>' + bar(st.done, st.total) + '</td><td>' +
        rate(st.items_per_second) + ' ' + text(st.unit) + '/s</td><td>' + duration(st.elapsed_seconds) + '</td><td>' +
        duration(st.eta_seconds) + '</td></tr>\n';
    }
    return h;
  }
  function ranks(s) {
    let h = '<tr><th>rank</th><th>host</th><th>state</th><th>items done</th><th>items/s</th><th>current part</th>' +
      '<th>parts done</th><th>last heartbeat</th><th>error</th></tr>\n';
    for (const r of s.ranks || []) {
      h += '<tr data-rank="' + r.rank + '" class="' + text(r.state) + '"><td>' + r.rank + '</td><td>' + text(r.host) +
        '</td><td>' + text(r.state) + '</td><td class="items">' + r.items_done + '</td><td>' +
        rate(r.items_per_second) + '</td><td>' + (r.current_part >= 0 ? r.current_part : '–') + '</td><td>' +
        r.parts_done + '</td><td>' + duration(r.heartbeat_age_seconds) + ' ago</td><td>' + text(r.error) +
        '</td></tr>\n';
    }
    return h;
  }
  function failure(s) {
    const f = s.failure;
    return f ? '<h2>Failed</h2><p><b>rank ' + f.rank + ' on ' + text(f.host) + '</b>: ' + text(f.message) + '</p>' : '';
  }
  function result(s) {
    const r = s.result;
    if (!r || typeof r !== 'object') return '<p>Not finished yet.</p>';
    let h = '<table>\n';
    for (const [k, v] of Object.entries(r)) {
      if (v !== null && typeof v === 'object') continue;
      h += '<tr><td>' + esc(k) + '</td><td class="value" data-key="' + esc(k) + '">' + text(v) + '</td></tr>\n';
    }
    return h + '</table>\n';
  }
  function figures(s) {
    const f = s.figures || {};
    let h = '';
    if (f.confusion_svg) h += '<div><h3>Confusion matrix</h3>' + f.confusion_svg + '</div>';
    if (f.roc_svg) h += '<div><h3>ROC</h3>' + f.roc_svg + '</div>';
    return h;
  }
  function loss(s) {
    const f = s.figures || {};
    if (!f.loss_svg) return '';
    const last = s.loss[s.loss.length - 1];
    return '<h2>Training loss</h2><p>iteration ' + text(last[0]) + ': objective ' + text(last[1]) + '</p>' + f.loss_svg;
  }
  function skipped(s) {
    const k = s.skipped || {};
    let h = '<tr><th>file</th><th>reason</th></tr>\n';
    for (const f of k.files || []) h += '<tr><td>' + text(f.path) + '</td><td>' + text(f.reason) + '</td></tr>\n';
    if (k.truncated) h += '<tr><td colspan="2">(more not listed)</td></tr>\n';
    return h;
  }
  function phases(s) {
    let h = '<tr><th>phase</th><th>started</th><th>duration</th></tr>\n';
    for (const p of s.phases || [])
      h += '<tr><td>' + text(p.name) + '</td><td>' + text(p.started) + '</td><td>' + duration(p.seconds) + '</td></tr>\n';
    return h;
  }

  // Only what changed is replaced: a figure redrawn every second would flicker and lose the reader's selection.
  function put(id, html) {
    const el = document.getElementById(id);
    if (el && el.dataset.drawn !== html) { el.innerHTML = html; el.dataset.drawn = html; }
  }
  function draw(s) {
    const phase = document.getElementById('phase');
    phase.textContent = s.phase;
    phase.className = 'phase phase-' + s.phase;
    document.getElementById('elapsed').textContent = duration(s.elapsed_seconds);
    document.getElementById('now').textContent = s.now;
    put('failure', failure(s));
    put('totals', totals(s));
    put('stages', stages(s));
    put('ranks', ranks(s));
    put('result', result(s));
    put('figures', figures(s));
    put('loss', loss(s));
    document.getElementById('skipped-count').textContent = (s.skipped || {}).count || 0;
    put('skipped', skipped(s));
    put('phases', phases(s));
  }

  const period = Math.max(100, Number(document.body.dataset.refresh) || 1000);
  let finished = false;
  async function poll() {
    try {
      const response = await fetch('/api/status', {cache: 'no-store'});
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const s = await response.json();
      draw(s);
      finished = s.finished;
      document.getElementById('connection').textContent = '';
    } catch (e) {
      // The process ends after its linger time: the page keeps the last state it saw and says so.
      document.getElementById('connection').textContent = finished
        ? '(the job has ended and its process no longer answers; this is its final state)'
        : '(no answer from the job: ' + e.message + ')';
    }
    setTimeout(poll, finished ? Math.max(period, 2000) : period);
  }
  poll();
})();
)JS";
  return script;
}

}  // namespace xfer::status
