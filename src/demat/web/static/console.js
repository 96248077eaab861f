// Live updates: the server pushes each change of state (server-sent events); this script
// updates the badges in place, adds the change to the page's live list, and announces it.
// Without JavaScript every page still reads; a reload shows the same.
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  // From the journal entry the page was rendered at: a change in between is not missed.
  var source = new EventSource("/evenements?depuis=" + (document.body.getAttribute("data-seq") || "0"));
  var announcer = document.getElementById("direct");

  function badge(change) {
    var span = document.createElement("span");
    span.className = "badge " + change.tone;
    span.setAttribute("data-state", change.state);
    span.textContent = change.state_label;
    return span;
  }

  function announce(change) {
    if (!announcer) { return; }
    var p = document.createElement("p");
    var a = document.createElement("a");
    a.href = "/transmissions/" + change.id;
    a.textContent = change.name;
    p.appendChild(a);
    p.appendChild(document.createTextNode(" : " + change.event_label + " (" + change.state_label + ")"));
    announcer.appendChild(p);
    while (announcer.childNodes.length > 3) { announcer.removeChild(announcer.firstChild); }
    setTimeout(function () { if (p.parentNode) { p.parentNode.removeChild(p); } }, 8000);
  }

  source.addEventListener("change", function (message) {
    var change = JSON.parse(message.data);
    var cells = document.querySelectorAll('[data-id="' + change.id + '"] .state');
    cells.forEach(function (cell) {
      cell.replaceChildren(badge(change));
      cell.classList.remove("flash"); void cell.offsetWidth; cell.classList.add("flash");
    });
    var list = document.querySelector('[data-live="list"]');
    var fresh = document.getElementById("nouveautes");
    if (list && fresh && cells.length === 0) { fresh.hidden = false; }
    var journal = document.getElementById("journal");
    var detail = document.querySelector('[data-live="detail"]');
    if (journal && detail && detail.getAttribute("data-id") === change.id) {
      var li = document.createElement("li");
      li.className = "flash";
      var strong = document.createElement("strong");
      strong.textContent = change.event_label;
      li.appendChild(document.createTextNode(change.at + " "));
      li.appendChild(strong);
      li.appendChild(document.createTextNode(" → " + change.state_label));
      journal.appendChild(li);
    }
    var feed = document.getElementById("flux-direct");
    if (feed) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "/transmissions/" + change.id;
      link.textContent = change.name;
      item.appendChild(document.createTextNode(change.at + " — "));
      item.appendChild(link);
      item.appendChild(document.createTextNode(" (" + change.profile + ") : " + change.event_label + " → " + change.state_label));
      var first = feed.querySelector(".muted");
      if (first) { feed.removeChild(first); }
      feed.insertBefore(item, feed.firstChild);
    }
    announce(change);
  });
})();
