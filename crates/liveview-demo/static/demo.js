// The demo's page script, served at /static/demo.js and loaded (deferred,
// after liveview_script()) by every page: the pages run no inline script,
// so the demo's Content-Security-Policy allows scripts from its own origin
// only.

// region: events_chart
// A hook: the server pushes {"events": n} with every update; the chart
// keeps the last 60 differences.
liveview.hooks.EventsChart = {
  mounted() {
    const seen = [];
    this.handle('stats', ({ events }) => {
      seen.push(events);
      if (seen.length > 61) seen.shift();
      const steps = seen.slice(1).map((n, i) => n - seen[i]), top = Math.max(1, ...steps);
      this.el.firstElementChild.setAttribute('points',
        steps.map((n, i) => `${i * 5},${40 - 38 * n / top}`).join(' '));
    });
  },
};
// endregion
