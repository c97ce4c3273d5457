/// The status page at `/`: plain HTML, CSS and a little JavaScript that polls `/v1/jobs`,
/// `/v1/workers` and `/v1/indexes` every second; nothing is fetched from anywhere else. Off
/// loopback the page reads a token from its address (`/#token=…`) and keeps it for the tab.
enum StatusPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Driftless</title>
        <style>
          :root { --ink: #1d2330; --muted: #667085; --line: #e4e7ec; --accent: #2f6fed; --bad: #c4320a; --ok: #067647; }
          * { box-sizing: border-box; }
          body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #f8f9fb; }
          header { display: flex; align-items: baseline; gap: 1rem; padding: 1rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
          header h1 { margin: 0; font-size: 1.2rem; }
          #updated { color: var(--muted); font-size: .85rem; }
          #problem { color: var(--bad); font-size: .85rem; }
          main { display: grid; gap: 1rem; padding: 1rem 1.5rem; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
          section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; }
          section h2 { margin: 0 0 .5rem; font-size: 1rem; }
          table { width: 100%; border-collapse: collapse; }
          th, td { white-space: nowrap; text-align: left; padding: .3rem .4rem; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
          th { color: var(--muted); font-weight: 500; font-size: .8rem; }
          .bar { height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; min-width: 80px; }
          .bar > div { height: 100%; background: var(--accent); }
          .empty { color: var(--muted); }
          .healthy { color: var(--ok); } .unhealthy { color: var(--bad); }
          svg { width: 100%; height: 120px; }
          #chart polyline { fill: none; stroke: var(--accent); stroke-width: 2; }
          #chart text { fill: var(--muted); font-size: 10px; }
        </style>
        </head>
        <body>
        <header><h1>Driftless</h1><span id="updated">loading…</span><span id="problem"></span></header>
        <main>
          <section><h2>Jobs</h2><table id="jobs"><thead><tr><th>job</th><th>index</th><th>state</th><th>progress</th><th></th><th>docs/s</th><th>ETA</th></tr></thead><tbody></tbody></table></section>
          <section><h2>Throughput (docs/s, all workers)</h2><svg id="chart" viewBox="0 0 400 120" preserveAspectRatio="none"><polyline points=""></polyline><text id="chart-max" x="2" y="10"></text></svg></section>
          <section><h2>Workers</h2><table id="workers"><thead><tr><th>worker</th><th>host</th><th>threads</th><th>shards</th><th>documents</th><th>docs/s</th><th>health</th></tr></thead><tbody></tbody></table></section>
          <section><h2>Indexes</h2><table id="indexes"><thead><tr><th>index</th><th>model</th><th>vectors</th><th>serving</th><th>upgrade</th></tr></thead><tbody></tbody></table></section>
        </main>
        <script>
        "use strict";
        const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
        if (fromHash) { sessionStorage.setItem("driftless-token", fromHash); history.replaceState(null, "", location.pathname); }
        const token = sessionStorage.getItem("driftless-token");
        const history_ = [];

        async function get(path) {
          const response = await fetch(path, { headers: token ? { Authorization: "Bearer " + token } : {}, cache: "no-store" });
          const body = await response.json();
          if (!response.ok) throw new Error(path + ": " + (body.error ? body.error.message : response.status));
          return body;
        }
        function cell(text, className) {
          const td = document.createElement("td");
          td.textContent = text;
          if (className) td.className = className;
          return td;
        }
        function fill(table, rows, empty) {
          const body = document.querySelector("#" + table + " tbody");
          body.replaceChildren(...rows);
          if (rows.length === 0) {
            const tr = document.createElement("tr");
            const td = cell(empty, "empty");
            td.colSpan = 8;
            tr.append(td);
            body.append(tr);
          }
        }
        function duration(seconds) {
          if (seconds == null) return "";
          seconds = Math.round(seconds);
          if (seconds < 60) return seconds + " s";
          if (seconds < 3600) return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
          return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
        }
        function jobRow(job) {
          const tr = document.createElement("tr");
          tr.dataset.job = job.id;
          const done = job.doneDocs + job.rejectedDocs;
          const share = job.totalDocs > 0 ? done / job.totalDocs : (job.state === "done" ? 1 : 0);
          const bar = document.createElement("div");
          bar.className = "bar";
          const fillBar = document.createElement("div");
          fillBar.style.width = (100 * share).toFixed(1) + "%";
          bar.append(fillBar);
          const barCell = document.createElement("td");
          barCell.append(bar);
          const progress = cell(done + " / " + job.totalDocs, "progress");
          progress.dataset.done = done;
          progress.dataset.total = job.totalDocs;
          tr.append(cell(job.id), cell(job.index), cell(job.phase || job.state), progress, barCell,
            cell(job.docsPerSecond.toFixed(1)), cell(job.state === "running" ? duration(job.etaSeconds) : ""));
          return tr;
        }
        function workerRow(worker) {
          const tr = document.createElement("tr");
          tr.dataset.worker = worker.id;
          const problems = worker.problems || [];
          const healthy = problems.length === 0;
          tr.append(cell(worker.id), cell(worker.host), cell(worker.threads), cell(worker.shardsInHand),
            cell(worker.documentsEmbedded), cell(worker.docsPerSecond.toFixed(1)),
            cell(healthy ? "healthy" : problems.join("; "), healthy ? "healthy" : "unhealthy"));
          return tr;
        }
        function indexRow(index) {
          const tr = document.createElement("tr");
          tr.dataset.index = index.name;
          const serving = index.serving;
          const upgrade = serving.successor
            ? serving.successor.name + " " + (100 * serving.successor.completeness).toFixed(1) + " %"
            : (serving.mode === "native" ? "" : "no successor yet");
          tr.append(cell(index.name), cell(index.model + " (" + index.dimension + "-d " + index.storage + ")"),
            cell(index.vectors), cell(serving.mode + (serving.mode === "native" ? "" : " · " + serving.model)), cell(upgrade));
          return tr;
        }
        function chart(rate) {
          history_.push(rate);
          if (history_.length > 120) history_.shift();
          const top = Math.max(1, ...history_);
          const points = history_.map((value, i) => (i * 400 / 119).toFixed(1) + "," + (118 - 108 * value / top).toFixed(1));
          document.querySelector("#chart polyline").setAttribute("points", points.join(" "));
          document.getElementById("chart-max").textContent = top.toFixed(0) + " docs/s";
        }
        async function refresh() {
          const problems = [];
          try {
            const jobs = await get("/v1/jobs");
            fill("jobs", jobs.jobs.slice().sort((a, b) => b.id - a.id).map(jobRow), "no jobs");
            chart(jobs.jobs.filter(job => job.state === "running").reduce((sum, job) => sum + job.docsPerSecond, 0));
          } catch (error) { problems.push(error.message); }
          try { fill("workers", (await get("/v1/workers")).workers.map(workerRow), "no workers connected"); }
          catch (error) { problems.push(error.message); }
          try { fill("indexes", (await get("/v1/indexes")).indexes.map(indexRow), "no indexes"); }
          catch (error) { problems.push(error.message); }
          document.getElementById("problem").textContent = problems.join("; ");
          document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
        }
        refresh();
        setInterval(refresh, 1000);
        </script>
        </body>
        </html>
        """#
}
