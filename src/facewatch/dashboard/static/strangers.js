// Facewatch strangers: keys to clear a queue of strangers quickly. Plain JavaScript, no
// build step; every action is also a link or a form that works without it.
//   list page:     j / k next / previous card, o or Enter open, n open and name; the card
//                  opened is kept in the address (#card-...), so Back, and the stranger's
//                  page once it is named or deleted (#card- of the next one), land on a card
//   stranger page: n name, m merge, j / k next / previous sighting, x tick it to move out
"use strict";

function typing(target) {
  return target.closest("input, select, textarea, [contenteditable]") !== null;
}

function moveFocus(items, step) {
  if (!items.length) return;
  const at = items.indexOf(document.activeElement);
  const next = at < 0 ? 0 : Math.min(items.length - 1, Math.max(0, at + step));
  items[next].focus();
  items[next].scrollIntoView({ block: "nearest" });
}

function remember(card) {
  history.replaceState(history.state, "", "#" + card.id);
}

function openCard(card, fragment) {
  remember(card);
  window.location = card.dataset.href + fragment;
}

function onListKey(event, cards) {
  const card = document.activeElement.closest(".stranger-card");
  if (event.key === "j") moveFocus(cards, 1);
  else if (event.key === "k") moveFocus(cards, -1);
  else if ((event.key === "o" || event.key === "Enter") && card) openCard(card, "");
  else if (event.key === "n" && card) openCard(card, "#name");
  else return false;
  return true;
}

function resumeQueue() {
  const card = window.location.hash.startsWith("#card-")
    ? document.getElementById(window.location.hash.slice(1))
    : null;
  if (!card || !card.classList.contains("stranger-card")) return;
  card.focus();
  card.scrollIntoView({ block: "nearest" });
}

function focusField(id) {
  const field = document.getElementById(id);
  if (!field) return false;
  field.focus();
  field.scrollIntoView({ block: "center" });
  return true;
}

function onStrangerKey(event, sightings) {
  const sighting = document.activeElement.closest(".sighting");
  if (event.key === "n") return focusField("name-input");
  if (event.key === "m") return focusField("merge-select");
  if (event.key === "j") moveFocus(sightings, 1);
  else if (event.key === "k") moveFocus(sightings, -1);
  else if (event.key === "x" && sighting) {
    const box = sighting.querySelector('input[type="checkbox"]');
    if (box) box.checked = !box.checked;
  } else return false;
  return true;
}

document.addEventListener("DOMContentLoaded", () => {
  const cards = Array.from(document.querySelectorAll(".stranger-card"));
  const sightings = Array.from(document.querySelectorAll(".sighting"));
  const onStrangerPage = document.getElementById("timeline") !== null;
  if (onStrangerPage && window.location.hash === "#name") focusField("name-input");
  if (!onStrangerPage) {
    resumeQueue();
    cards.forEach((card) => card.addEventListener("click", () => remember(card)));
  }
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const handled = onStrangerPage ? onStrangerKey(event, sightings) : onListKey(event, cards);
    if (handled) event.preventDefault();
  });
});
