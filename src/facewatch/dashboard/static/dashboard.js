// Facewatch dashboard: the live feed, acknowledging without a reload, confirmations and
// webcam enrolment. Plain JavaScript, no build step; every form also works without it.
"use strict";

const MAX_CARDS = 200;

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function htmlToElement(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

// --- live feed -------------------------------------------------------------------------
function startLiveFeed(feed) {
  const status = document.getElementById("live-status");
  const setStatus = (state, text) => {
    if (status) { status.dataset.state = state; status.textContent = text; }
  };
  const source = new EventSource(feed.dataset.streamUrl);
  source.onopen = () => setStatus("live", "live");
  source.onerror = () => {
    // The browser retries by itself unless the server refused the stream (e.g. logged out).
    if (source.readyState === EventSource.CLOSED) setStatus("offline", "offline: reload the page");
    else setStatus("reconnecting", "reconnecting…");
  };
  source.onmessage = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch (_) { return; }
    if (!event || !event.id) return;
    // "Open alerts only": a routine recognition never waits for anyone.
    if (feed.hasAttribute("data-open-only") && event.severity === "info") return;
    addCard(feed, event.id);
  };
  window.addEventListener("beforeunload", () => source.close());
}

async function addCard(feed, eventId) {
  if (document.getElementById("event-" + eventId)) return;
  const response = await fetch("/live/events/" + encodeURIComponent(eventId),
                               { credentials: "same-origin" });
  if (!response.ok) return;
  const card = htmlToElement(await response.text());
  if (!card || document.getElementById(card.id)) return;
  card.classList.add("new");
  feed.prepend(card);
  const empty = feed.querySelector(".empty-feed");
  if (empty) empty.hidden = true;
  const cards = feed.querySelectorAll(".event");
  for (let i = MAX_CARDS; i < cards.length; i++) cards[i].remove();
}

// --- presence board: fetched again on each event, and as the window moves on ----------
function startPresenceBoard(box) {
  const status = document.getElementById("live-status");
  const setStatus = (state, text) => {
    if (status) { status.dataset.state = state; status.textContent = text; }
  };
  let pending = null;
  const refresh = () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {  // a burst of events costs one fetch
      const response = await fetch(box.dataset.boardUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const board = htmlToElement(await response.text());
      const old = document.getElementById("presence-board");
      if (board && old) old.replaceWith(board);
    }, 250);
  };
  const source = new EventSource(box.dataset.streamUrl);
  source.onopen = () => setStatus("live", "live");
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) setStatus("offline", "offline: reload the page");
    else setStatus("reconnecting", "reconnecting…");
  };
  source.onmessage = refresh;
  setInterval(refresh, 1000 * Number(box.dataset.refreshSeconds || 30));
  window.addEventListener("beforeunload", () => source.close());
}

// --- acknowledge -----------------------------------------------------------------------
async function acknowledge(form) {
  const response = await fetch(form.action, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken(), "X-Requested-With": "fetch" },
  });
  if (!response.ok) { form.submit(); return; }  // let the server's page say why
  const card = htmlToElement(await response.text());
  const old = form.closest(".event");
  if (card && old) old.replaceWith(card);
}

// --- webcam enrolment ------------------------------------------------------------------
function setUpWebcam(box) {
  const form = box.closest("form");
  const input = form.querySelector('input[type="file"]');
  const video = box.querySelector("[data-webcam-video]");
  const start = box.querySelector("[data-webcam-start]");
  const capture = box.querySelector("[data-webcam-capture]");
  const stop = box.querySelector("[data-webcam-stop]");
  const status = box.querySelector("[data-webcam-status]");
  const shots = box.querySelector("[data-webcam-shots]");
  const taken = [];
  let stream = null;

  const show = (running) => {
    video.hidden = capture.hidden = stop.hidden = !running;
    start.hidden = running;
  };
  start.addEventListener("click", async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = "This browser cannot use a webcam here (it needs https or localhost).";
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
    } catch (error) {
      status.textContent = "No webcam: " + error.message;
      return;
    }
    video.srcObject = stream;
    show(true);
    status.textContent = "Look at the camera and take a few photos, turning the head a little.";
  });
  stop.addEventListener("click", () => {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    show(false);
  });
  capture.addEventListener("click", () => {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      if (!blob) return;
      const file = new File([blob], `webcam-${taken.length + 1}.jpg`, { type: "image/jpeg" });
      taken.push(file);
      addFiles(input, [file]);
      const img = document.createElement("img");
      img.className = "crop small";
      img.alt = file.name;
      img.src = URL.createObjectURL(blob);
      shots.append(img);
      status.textContent = `${taken.length} photo(s) taken; press Enrol to send them.`;
    }, "image/jpeg", 0.92);
  });
}

function addFiles(input, files) {
  const all = new DataTransfer();
  for (const file of input.files) all.items.add(file);
  for (const file of files) all.items.add(file);
  input.files = all.files;
}

// --- reports: typing a from/to picks the custom range; a preset range clears them ------
function setUpRangeFilter(form) {
  const range = form.querySelector('select[name="range"]');
  const bounds = form.querySelectorAll('input[name="since"], input[name="until"]');
  bounds.forEach((input) => input.addEventListener("change", () => {
    if (input.value) range.value = "custom";
  }));
  range.addEventListener("change", () => {
    if (range.value !== "custom") bounds.forEach((input) => { input.value = ""; });
  });
}

// --- wiring ----------------------------------------------------------------------------
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (form.hasAttribute("data-ack")) {
    event.preventDefault();
    acknowledge(form);
  }
});

document.addEventListener("DOMContentLoaded", () => {
  const feed = document.getElementById("feed");
  if (feed && feed.dataset.streamUrl && window.EventSource) startLiveFeed(feed);
  const board = document.getElementById("presence");
  if (board && window.EventSource) startPresenceBoard(board);
  document.querySelectorAll("[data-webcam]").forEach(setUpWebcam);
  document.querySelectorAll("form[data-range-filter]").forEach(setUpRangeFilter);
});
