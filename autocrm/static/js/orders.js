/* Sales orders: the order card's lazy tabs and the deal passport block of the vehicle card.
   Loaded with `defer` after app.js (which adds the CSRF header to htmx requests); the CSP
   allows only same-origin scripts, so behaviour is attached through ids and data-*.

   A lazy part ([data-orders-lazy], hx-trigger "paneShown") loads the first time its tab
   or collapse is shown. Every change of the order ("orderChanged", sent by the server in
   HX-Trigger) reloads the parts loaded so far, except the one the change came from. */
(function () {
  "use strict";

  // A request from (or into) an element marked data-swap-errors shows the server's answer
  // to a refusal (400, 403, 409: the part with its error) instead of htmx's default of
  // swapping nothing. The event is dispatched on the target; the requesting element is in
  // the request's configuration.
  function swapsErrors(element) {
    return element instanceof Element && element.closest("[data-swap-errors]") !== null;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var status = detail.xhr.status;
    var source = detail.requestConfig ? detail.requestConfig.elt : null;
    if (status >= 400 && status < 500 && (swapsErrors(source) || swapsErrors(detail.target))) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  var generation = 0;
  var BUSY = ["pe-none", "opacity-50"];

  function lazyPart(container) {
    if (!(container instanceof Element)) {
      return null;
    }
    return container.matches("[data-orders-lazy]") ? container : container.querySelector("[data-orders-lazy]");
  }

  // (Re)load a part unless it is current. While a reload is under way the old content
  // cannot be clicked: an action on it would race the reload and be overwritten.
  function load(part) {
    if (!part || !window.htmx || part.dataset.ordersGeneration === String(generation)) {
      return;
    }
    if (part.dataset.ordersGeneration !== undefined) {
      BUSY.forEach(function (name) { part.classList.add(name); });
    }
    part.dataset.ordersGeneration = String(generation);
    window.htmx.trigger(part, "paneShown");
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (elt instanceof Element && elt.matches("[data-orders-lazy]")) {
      BUSY.forEach(function (name) { elt.classList.remove(name); });
    }
  });

  // A part loads when its tab or collapse starts to show (not after the fade: the user
  // must not get a moment to click content that is about to be replaced).
  document.addEventListener("show.bs.tab", function (event) {
    var trigger = event.target;
    var selector = trigger.getAttribute("data-bs-target");
    load(lazyPart(selector ? document.querySelector(selector) : null));
  });

  document.addEventListener("shown.bs.tab", function (event) {
    var trigger = event.target;
    var key = trigger.id && trigger.id.indexOf("tab-") === 0 ? trigger.id.slice(4) : "";
    if (key && trigger.closest("#order-tabs") && window.history.replaceState) {
      window.history.replaceState(null, "", "#" + key);
    }
  });

  document.addEventListener("show.bs.collapse", function (event) {
    load(lazyPart(event.target));
  });

  document.addEventListener("shown.bs.collapse", function (event) {
    // Opened from a button elsewhere on the page (the car's "Deal passport" field): bring
    // the block into view.
    var card = event.target.closest(".card");
    if (card && typeof card.scrollIntoView === "function") {
      card.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  });

  // Every part loaded so far reloads at once, shown or not, except the one the change
  // came from (it has swapped its own answer in): by the time the user opens another
  // tab it is current.
  document.addEventListener("orderChanged", function (event) {
    generation += 1;
    var source = event.target;
    document.querySelectorAll("[data-orders-lazy]").forEach(function (part) {
      if (source instanceof Node && part.contains(source)) {
        part.dataset.ordersGeneration = String(generation);
      } else if (part.dataset.ordersGeneration !== undefined) {
        load(part);
      }
    });
  });

  function init() {
    document.querySelectorAll("[data-orders-loaded]").forEach(function (part) {
      part.dataset.ordersGeneration = String(generation);
    });
    // "#invoices" in the address opens that tab of the order card.
    var key = window.location.hash.replace(/^#/, "");
    if (key && /^[a-z-]+$/.test(key)) {
      var button = document.getElementById("tab-" + key);
      if (button && button.closest("#order-tabs") && window.bootstrap) {
        window.bootstrap.Tab.getOrCreateInstance(button).show();
      }
    }
  }

  // Deferred scripts run while readyState is "interactive", before htmx processes the
  // page on DOMContentLoaded: wait for it, or the lazy tab named by the hash never loads.
  if (document.readyState !== "complete") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
