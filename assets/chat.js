// Follow a streaming reply only while the reader is at the bottom of the conversation.
(function () {
  var THRESHOLD = 80; // px from the bottom that still counts as "at the bottom"
  var stick = true;
  var observed = null;

  function box() { return document.getElementById("messages"); }
  function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < THRESHOLD; }

  window.chatappScrollToBottom = function () {
    stick = true;
    var el = box();
    if (el) el.scrollTop = el.scrollHeight;
  };

  function attach() {
    var el = box();
    if (!el || el === observed) return;
    observed = el;
    stick = true;
    el.scrollTop = el.scrollHeight;
    el.addEventListener("scroll", function () { stick = atBottom(el); }, { passive: true });
    // Scrolling up must win at once, before a streamed update pulls the view back down.
    el.addEventListener("wheel", function (e) { if (e.deltaY < 0) stick = false; }, { passive: true });
    el.addEventListener("touchmove", function () { stick = atBottom(el); }, { passive: true });
    new MutationObserver(function () {
      if (stick) el.scrollTop = el.scrollHeight;
    }).observe(el, { childList: true, subtree: true, characterData: true });
  }

  // React replaces the container on navigation: re-attach whenever a new one appears.
  new MutationObserver(attach).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", attach);
})();
