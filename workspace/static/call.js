// Call page: waveform player (both channels), transcript follows the audio, click to seek,
// evidence links seek, sentiment-over-time chart. Works with the plain <audio> element if
// wavesurfer.js or Chart.js failed to load.
(function () {
  "use strict";
  const audio = document.getElementById("player");
  const lines = Array.from(document.querySelectorAll("#transcript .line"));
  const data = JSON.parse(document.getElementById("call-data").textContent || "{}");
  const pos = document.getElementById("pos");
  const at = document.getElementById("comment-at");

  function fmt(t) {
    t = Math.max(0, Math.round(t || 0));
    return Math.floor(t / 60) + ":" + String(t % 60).padStart(2, "0");
  }

  function seek(t) {
    if (!audio || isNaN(t)) return;
    audio.currentTime = t;
    const p = audio.play();
    if (p && p.catch) p.catch(function () {});
  }
  window.hotlineSeek = seek;

  if (audio && window.WaveSurfer) {
    try {
      window.hotlineWave = WaveSurfer.create({
        container: "#wave",
        media: audio,
        height: 44,
        splitChannels: [
          { waveColor: "#e08a3c", progressColor: "#a65a16" },
          { waveColor: "#3c7be0", progressColor: "#1a4fa0" },
        ],
        normalize: true,
        cursorColor: "#c00",
        dragToSeek: true,
      });
    } catch (e) {
      console.warn("waveform unavailable", e);
    }
  }

  let current = null;
  function follow() {
    if (!audio) return;
    const t = audio.currentTime;
    if (pos) pos.textContent = fmt(t);
    let hit = null;
    for (const el of lines) {
      const s = parseFloat(el.dataset.start), e = parseFloat(el.dataset.end);
      if (!isNaN(s) && t >= s && (isNaN(e) ? true : t < e + 0.05)) hit = el;
    }
    if (hit !== current) {
      if (current) current.classList.remove("current");
      if (hit) {
        hit.classList.add("current");
        const box = document.getElementById("transcript");
        if (box && (hit.offsetTop < box.scrollTop || hit.offsetTop > box.scrollTop + box.clientHeight - 40)) {
          box.scrollTop = hit.offsetTop - box.offsetTop - 40;
        }
      }
      current = hit;
    }
  }
  if (audio) {
    audio.addEventListener("timeupdate", follow);
    audio.addEventListener("seeked", follow);
    audio.addEventListener("pause", function () { if (at) at.value = audio.currentTime.toFixed(1); });
  }

  for (const el of lines) {
    el.addEventListener("click", function (ev) {
      if (ev.target.closest("a")) return;
      const s = parseFloat(el.dataset.start);
      if (!isNaN(s)) seek(s);
      if (at) at.value = isNaN(s) ? "" : s.toFixed(1);
      const sel = document.querySelector(".commentform select[name=turn]");
      if (sel) sel.value = el.dataset.turn;
    });
  }
  document.querySelectorAll("a.evlink").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      const t = parseFloat(a.dataset.time);
      const turn = a.dataset.turn;
      if (turn !== undefined && turn !== "") {
        const el = document.getElementById("turn-" + turn);
        if (el) { el.scrollIntoView({ block: "center" }); el.classList.add("flash"); setTimeout(function () { el.classList.remove("flash"); }, 1200); }
      }
      if (!isNaN(t)) seek(t);
    });
  });
  // a highlighted phrase points to its scorecard item, and the item row lights up
  document.querySelectorAll("a.hit, a.itemref").forEach(function (a) {
    a.addEventListener("click", function () {
      const row = document.querySelector(a.getAttribute("href"));
      if (row) { row.classList.add("flash"); setTimeout(function () { row.classList.remove("flash"); }, 1500); }
    });
  });
  // overridden scores are marked while editing
  document.querySelectorAll("#reviewform input[type=number]").forEach(function (inp) {
    const mark = function () { inp.classList.toggle("changed", parseFloat(inp.value) !== parseFloat(inp.dataset.auto)); };
    inp.addEventListener("input", mark);
    mark();
  });

  const canvas = document.getElementById("sentchart");
  if (canvas && window.Chart && data.series) {
    const timed = data.duration != null;
    new Chart(canvas, {
      type: "line",
      data: {
        datasets: [
          { label: "客户", data: data.series.customer || [], borderColor: "#d9480f", backgroundColor: "#d9480f", tension: 0.25 },
          { label: "客服", data: data.series.agent || [], borderColor: "#1c7ed6", backgroundColor: "#1c7ed6", tension: 0.25 },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: { type: "linear", title: { display: true, text: timed ? "时间（秒）" : "句序" } },
          y: { min: -1, max: 1, title: { display: true, text: "情绪（-1 负面 … +1 正面）" } },
        },
        onClick: function (_e, els, chart) {
          if (!els.length) return;
          const p = chart.data.datasets[els[0].datasetIndex].data[els[0].index];
          if (timed) seek(p.x);
        },
      },
    });
  }
})();
