// chatapp's small client side: following a streaming reply, paging a long thread as it
// scrolls (keeping the reading position), revealing a search hit, the keyboard shortcuts,
// the sidebar and its drawer, and a local copy of the draft.
(function () {
  // The browser's time zone, for the sidebar's Today / Yesterday (the server reads it from the
  // socket's handshake; IANA names need no quoting in a cookie).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_+\/-]{1,64}$/.test(zone)) {
      document.cookie = "chatapp_tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) {}
  var THRESHOLD = 80; // px from the bottom that still counts as "at the bottom"
  var PAGE_MARGIN = 400; // px from an end of the conversation that loads the next page
  var NARROW = "(max-width: 767px)";
  var stick = true;
  var observed = null;
  var anchor = null; // {id, top}: the message to keep in place while a page is added above
  var loading = false;
  var reading = false; // the reader scrolled by hand (pages load only then, not on our scrolls)

  function box() { return document.getElementById("messages"); }
  function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < THRESHOLD; }
  function mod(e) { return e.ctrlKey || e.metaKey; }
  function click(id) { var b = document.getElementById(id); if (b) b.click(); return !!b; }

  window.chatappScrollToBottom = function () {
    stick = true;
    var el = box();
    if (el) el.scrollTop = el.scrollHeight;
  };

  // Scroll a message into view and let it be (a search hit, a switched branch).
  window.chatappReveal = function (id, tries) {
    var el = box();
    var target = el && el.querySelector('[data-message-id="' + CSS.escape(id) + '"]');
    if (!target) {
      if ((tries || 0) < 40) setTimeout(function () { window.chatappReveal(id, (tries || 0) + 1); }, 50);
      return;
    }
    stick = false;
    target.scrollIntoView({ block: "center" });
  };

  // The message drawn on top: pages are drawn in CSS order, not in the order of the DOM.
  function firstMessage(el) {
    var top = null, best = Infinity;
    el.querySelectorAll(".page").forEach(function (p) {
      var order = parseInt(getComputedStyle(p).order, 10) || 0;
      var first = p.querySelector("[data-message-id]");
      if (first && order < best) { best = order; top = first; }
    });
    return top;
  }

  function loadPage(el) {
    if (loading || !reading) return;
    if (el.scrollTop < PAGE_MARGIN && document.getElementById("load-earlier")) {
      var first = firstMessage(el);
      anchor = first ? { id: first.getAttribute("data-message-id"), top: first.getBoundingClientRect().top } : null;
      loading = click("load-earlier");
    } else if (el.scrollHeight - el.scrollTop - el.clientHeight < PAGE_MARGIN &&
               document.getElementById("load-newer")) {
      loading = click("load-newer");
    }
    if (loading) setTimeout(function () { loading = false; }, 1500); // a lost reply unblocks
  }

  function keepAnchor(el) {
    if (!anchor) return;
    var again = el.querySelector('[data-message-id="' + CSS.escape(anchor.id) + '"]');
    if (again && again !== firstMessage(el)) {
      el.scrollTop += again.getBoundingClientRect().top - anchor.top;
      anchor = null;
      loading = false;
    }
  }

  function attach() {
    var el = box();
    if (!el || el === observed) return;
    observed = el;
    stick = true;
    anchor = null;
    loading = false;
    reading = false;
    el.scrollTop = el.scrollHeight;
    el.addEventListener("scroll", function () {
      stick = atBottom(el);
      loadPage(el);
    }, { passive: true });
    // Scrolling up must win at once, before a streamed update pulls the view back down; at
    // the very top a wheel turn moves nothing, so it asks for the page itself.
    el.addEventListener("wheel", function (e) {
      reading = true;
      if (e.deltaY < 0) { stick = false; loadPage(el); }
    }, { passive: true });
    el.addEventListener("touchmove", function () { reading = true; stick = atBottom(el); }, { passive: true });
    ["pointerdown", "keydown"].forEach(function (type) {
      el.addEventListener(type, function () { reading = true; }, { passive: true });
    });
    new MutationObserver(function () {
      keepAnchor(el);
      if (stick) el.scrollTop = el.scrollHeight;
      else if (!anchor) loading = false;
    }).observe(el, { childList: true, subtree: true, characterData: true });
  }

  // --- the sidebar: hidden or shown on wide screens (remembered), a drawer on narrow ones --
  function app() { return document.querySelector(".app"); }
  window.chatappToggleSidebar = function () {
    var a = app();
    if (!a) return;
    if (window.matchMedia(NARROW).matches) {
      a.classList.toggle("drawer-open");
    } else {
      var hidden = a.classList.toggle("sidebar-hidden");
      try { localStorage.setItem("chatapp-sidebar-hidden", hidden ? "1" : ""); } catch (e) {}
    }
  };
  function restoreSidebar() {
    var a = app();
    if (!a || a.dataset.sidebarRestored) return;
    a.dataset.sidebarRestored = "1";
    try { if (localStorage.getItem("chatapp-sidebar-hidden")) a.classList.add("sidebar-hidden"); } catch (e) {}
  }
  // Following a link from the drawer closes it.
  document.addEventListener("click", function (e) {
    var a = app();
    if (a && a.classList.contains("drawer-open") && e.target.closest && e.target.closest(".sidebar a[href]")) {
      a.classList.remove("drawer-open");
    }
  });

  // The thread list loads its next page when its end comes near (the button stays for keys).
  document.addEventListener("scroll", function (e) {
    var list = e.target;
    if (!list || list.id !== "thread-list") return;
    if (list.scrollHeight - list.scrollTop - list.clientHeight < 200) {
      var more = document.getElementById("threads-more");
      if (more && !more.dataset.pressed) {
        more.dataset.pressed = "1"; // one press per page: the new button comes with it
        more.click();
      }
    }
  }, true);

  // --- drafts: the server keeps them; this copy covers a session that expired meanwhile --
  function draftKey() { return "chatapp-draft:" + location.pathname; }
  function composer() { return document.getElementById("composer"); }
  // What was typed since the last send. A new chat's page replaces the composer a moment after
  // its address changes (the new page mounts its own): text typed into the old one meanwhile
  // moves into the new one instead of being lost.
  var typed = "";
  var shownComposer = null;
  document.addEventListener("input", function (e) {
    if (e.target && e.target.id === "composer") {
      typed = e.target.value;
      try { localStorage.setItem(draftKey(), e.target.value); } catch (err) {}
    }
  });
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.querySelector && e.target.querySelector("#composer")) typed = "";
  }, true);
  new MutationObserver(function () {
    var c = composer();
    if (!c || c === shownComposer) return;
    var carried = shownComposer && !shownComposer.isConnected && typed && !c.value;
    shownComposer = c;
    if (carried) {
      c.value = typed;
      c.focus();
      c.setSelectionRange(typed.length, typed.length);
    }
  }).observe(document.documentElement, { childList: true, subtree: true });
  window.chatappRestoreDraft = function (text, tries) {
    var c = composer();
    if (!c) {
      if ((tries || 0) < 40) setTimeout(function () { window.chatappRestoreDraft(text, (tries || 0) + 1); }, 50);
      return;
    }
    var local = "";
    try { local = localStorage.getItem(draftKey()) || ""; } catch (e) {}
    if (c.value) return; // never overwrite what is being typed
    c.value = text || local;
  };
  window.chatappDraftSent = function (paths) {
    try {
      (paths || [location.pathname]).forEach(function (p) { localStorage.removeItem("chatapp-draft:" + p); });
    } catch (e) {}
  };

  // --- keyboard shortcuts, in the spirit of T3 Chat; none is a key the composer needs ------
  function dialogOpen() { return !!document.querySelector("[role=dialog], [role=menu]"); }
  document.addEventListener("keydown", function (e) {
    var key = (e.key || "").toLowerCase();
    if (mod(e) && !e.shiftKey && key === "k") {
      e.preventDefault();
      click("palette-open");
    } else if (mod(e) && e.shiftKey && key === "o") {
      e.preventDefault();
      var link = document.querySelector("#new-chat, [data-testid=new-chat]");
      if (link) link.click();
      setTimeout(function () { var c = composer(); if (c) c.focus(); }, 100);
    } else if (mod(e) && !e.shiftKey && key === "b") {
      e.preventDefault();
      window.chatappToggleSidebar();
    } else if (mod(e) && (key === "/" || e.code === "Slash")) {
      e.preventDefault();
      click("shortcuts-open");
    } else if (key === "escape") {
      if (e.target && e.target.classList && e.target.classList.contains("rename-input")) {
        e.target.blur(); // leaving the title field cancels the rename
        return;
      }
      if (dialogOpen()) return; // the dialog or menu closes itself
      var a = app();
      if (a && a.classList.contains("drawer-open")) { a.classList.remove("drawer-open"); return; }
      var stop = document.querySelector("[data-testid=stop-button]");
      if (stop) { e.preventDefault(); stop.click(); }
    }
  }, true);

  // The open thread in the sidebar: the list names it (data-open); its row gets the mark.
  function markOpen() {
    var list = document.getElementById("thread-list");
    if (!list) return;
    var open = list.getAttribute("data-open") || "";
    list.querySelectorAll(".thread[data-thread]").forEach(function (a) {
      var on = a.getAttribute("data-thread") === open;
      if (on === a.classList.contains("active")) return;
      a.classList.toggle("active", on);
      if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
  }

  // React replaces the container on navigation: re-attach whenever a new one appears.
  new MutationObserver(function () { attach(); restoreSidebar(); markOpen(); })
    .observe(document.documentElement, { childList: true, subtree: true, attributes: true,
                                          attributeFilter: ["data-open"] });
  document.addEventListener("DOMContentLoaded", function () { attach(); restoreSidebar(); markOpen(); });
})();
