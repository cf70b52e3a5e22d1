// What JavaScript adds to the handbook. Every form works without it; this only makes them nicer:
// - the error summary takes focus, so a screen reader reads it first;
// - long text fields count down the characters left;
// - a long form keeps a draft in the browser while it is typed (the agreement one per step),
//   restored after a reload or a lost connection and cleared once the service has accepted it;
// - a form whose send cannot reach the service stays on the page, with its answers, and says so;
// - "Was this page helpful?" sends its answer without leaving the page;
// - the printable agreement gets a print button;
// - a form page says when the phone is offline that the form cannot be sent now, and keeps the draft;
// - after the page has loaded, the language's service worker (hooks/offline.py) is registered, so
//   the handbook works offline from the next page on.
(function () {
  "use strict";

  var TEXT = {
    nb: {
      left: function (n) { return "Du har " + n + " tegn igjen"; },
      over: function (n) { return "Du har " + n + " tegn for mye"; },
      restored: "Vi har fylt inn det du skrev tidligere på denne enheten.",
      restart: "Tøm skjemaet",
      thanks: "Takk for tilbakemeldingen!",
      failed: "Tilbakemeldingen ble ikke sendt. Prøv igjen senere.",
      offline: "Du er ikke koblet til nettet, så skjemaet kan ikke sendes nå.",
      keptlocal: "Det du skriver, blir tatt vare på på denne enheten, og du kan sende skjemaet når du har nett igjen.",
      keptsession: "Det du skriver, blir tatt vare på på denne enheten så lenge denne fanen er åpen, og du kan sende skjemaet når du har nett igjen.",
      keptnone: "Du kan sende skjemaet når du har nett igjen.",
      unreachable: "Skjemaet ble ikke sendt: vi får ikke kontakt med tjenesten. Svarene dine er tatt vare på her og på denne enheten. Send skjemaet igjen når du har nett.",
      online: "Du har nett igjen. Du kan sende skjemaet nå."
    },
    en: {
      left: function (n) { return "You have " + n + " characters remaining"; },
      over: function (n) { return "You have " + n + " characters too many"; },
      restored: "We have filled in what you wrote earlier on this device.",
      restart: "Clear the form",
      thanks: "Thank you for your feedback!",
      failed: "The feedback was not sent. Please try again later.",
      offline: "You are offline, so the form cannot be sent now.",
      keptlocal: "What you write is kept on this device, and you can send the form when you are back online.",
      keptsession: "What you write is kept on this device while this tab stays open, and you can send the form when you are back online.",
      keptnone: "You can send the form when you are back online.",
      unreachable: "The form was not sent: the service cannot be reached. Your answers are kept here and on this device. Send the form again when the connection is back.",
      online: "The connection is back. You can send the form now."
    },
    da: {
      left: function (n) { return "Du har " + n + " tegn tilbage"; },
      over: function (n) { return "Du har " + n + " tegn for meget"; },
      restored: "Vi har udfyldt det, du skrev tidligere på denne enhed.",
      restart: "Ryd skemaet",
      thanks: "Tak for din feedback!",
      failed: "Din feedback blev ikke sendt. Prøv igen senere.",
      offline: "Du er ikke på nettet, så skemaet kan ikke sendes nu.",
      keptlocal: "Det, du skriver, gemmes på denne enhed, og du kan sende skemaet, når du er på nettet igen.",
      keptsession: "Det, du skriver, gemmes på denne enhed, så længe denne fane er åben, og du kan sende skemaet, når du er på nettet igen.",
      keptnone: "Du kan sende skemaet, når du er på nettet igen.",
      unreachable: "Skemaet blev ikke sendt: der er ingen forbindelse til tjenesten. Dine svar er gemt her og på denne enhed. Send skemaet igen, når du er på nettet igen.",
      online: "Forbindelsen er tilbage. Du kan sende skemaet nu."
    }
  };
  var text = TEXT[document.documentElement.lang] || TEXT.nb;
  var DRAFT_PREFIX = "mentor-handbook-draft:";

  function storageFor(kind) {
    try {
      var storage = kind === "session" ? window.sessionStorage : window.localStorage;
      storage.getItem("x");
      return storage;
    } catch (error) {
      return null; // storage blocked: the form still works, only without a draft
    }
  }

  // -- error summary ------------------------------------------------------------------------
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  }

  // -- character counters -------------------------------------------------------------------
  function addCounters() {
    document.querySelectorAll("textarea[data-counter][maxlength]").forEach(function (area) {
      var max = parseInt(area.getAttribute("maxlength"), 10);
      var counter = document.createElement("p");
      counter.className = "mh-counter";
      counter.id = area.id + "-counter";
      counter.setAttribute("aria-live", "polite");
      area.removeAttribute("maxlength"); // let people paste and trim, as the counter shows
      area.insertAdjacentElement("afterend", counter);
      var described = area.getAttribute("aria-describedby");
      area.setAttribute("aria-describedby", (described ? described + " " : "") + counter.id);
      function update() {
        var left = max - area.value.length;
        counter.textContent = left >= 0 ? text.left(left) : text.over(-left);
        counter.classList.toggle("mh-counter--over", left < 0);
      }
      area.addEventListener("input", update);
      update();
    });
  }

  // -- drafts -------------------------------------------------------------------------------
  function draftFields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrf_token" && el.name !== "website" &&
        el.type !== "hidden" && el.type !== "submit" && el.type !== "button";
    });
  }

  function readForm(form) {
    var values = {};
    draftFields(form).forEach(function (el) {
      if (el.type === "radio" || el.type === "checkbox") {
        if (!values[el.name]) values[el.name] = [];
        if (el.checked) values[el.name].push(el.value);
      } else {
        values[el.name] = el.value;
      }
    });
    return values;
  }

  function isEmpty(form) {
    // Answers the page chose for the reader (data-draft-defaults) do not count as typed.
    var defaults = (form.getAttribute("data-draft-defaults") || "").split(" ");
    return draftFields(form).every(function (el) {
      if (defaults.indexOf(el.name) >= 0) return true;
      return (el.type === "radio" || el.type === "checkbox") ? !el.checked : (el.tagName === "SELECT" || !el.value);
    });
  }

  function fillForm(form, values) {
    draftFields(form).forEach(function (el) {
      var value = values[el.name];
      if (value === undefined) return;
      if (el.type === "radio" || el.type === "checkbox") {
        el.checked = value.indexOf(el.value) >= 0;
      } else {
        el.value = value;
      }
      el.dispatchEvent(new Event("input"));
    });
  }

  function keepDrafts() {
    document.querySelectorAll("form[data-draft]").forEach(function (form) {
      var storage = storageFor(form.getAttribute("data-draft"));
      if (!storage) return;
      var key = DRAFT_PREFIX + form.getAttribute("data-draft-key");
      var saved = storage.getItem(key);
      // Answers the service sent back (after an error) win over an older draft.
      if (saved && isEmpty(form) && !form.querySelector("[data-error-summary]")) {
        fillForm(form, JSON.parse(saved));
        var note = document.createElement("p");
        note.className = "mh-draft-note";
        note.textContent = text.restored + " ";
        var restart = document.createElement("button");
        restart.type = "button";
        restart.className = "md-button";
        restart.textContent = text.restart;
        restart.addEventListener("click", function () {
          storage.removeItem(key);
          form.reset();
          draftFields(form).forEach(function (el) { el.dispatchEvent(new Event("input")); });
          note.remove();
        });
        note.appendChild(restart);
        form.insertAdjacentElement("afterbegin", note);
      }
      var timer = null;
      function save() {
        clearTimeout(timer);
        timer = setTimeout(function () { storage.setItem(key, JSON.stringify(readForm(form))); }, 250);
      }
      form.addEventListener("input", save);
      form.addEventListener("change", save);
    });
  }

  // A receipt means the service has the form: its drafts (one per step) are no longer needed.
  function clearAcceptedDrafts() {
    document.querySelectorAll("[data-clear-draft]").forEach(function (receipt) {
      var key = DRAFT_PREFIX + receipt.getAttribute("data-clear-draft");
      ["local", "session"].forEach(function (kind) {
        var storage = storageFor(kind);
        if (!storage) return;
        var stale = [];
        for (var i = 0; i < storage.length; i++) {
          var name = storage.key(i);
          if (name === key || name.indexOf(key + "-") === 0) stale.push(name);
        }
        stale.forEach(function (name) { storage.removeItem(name); });
      });
    });
  }

  // -- sending without a connection -------------------------------------------------------
  // A phone can be "online" and still not reach the service (a dead Wi-Fi, a tunnel). The browser
  // would replace the page with its own error page, and Back may not bring the answers back. So a
  // send is let through only once the service answers; wireOfflineForms handles a phone that
  // knows it is offline.
  function reachable(url) {
    if (!navigator.onLine) return Promise.resolve(false);
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller && setTimeout(function () { controller.abort(); }, 8000);
    return fetch(url, {
      method: "HEAD", cache: "no-store", credentials: "omit", signal: controller && controller.signal
    }).then(function () { return true; }, function () { return false; })
      .then(function (ok) { clearTimeout(timer); return ok; });
  }

  function guardOfflineSends() {
    document.querySelectorAll("form.mh-form").forEach(function (form) {
      var status = document.createElement("p");
      status.className = "mh-send-status";
      status.setAttribute("aria-live", "assertive");
      var button = form.querySelector("[type=submit]");
      (button || form.lastElementChild).insertAdjacentElement("beforebegin", status);
      var checked = false;
      window.addEventListener("online", function () {
        if (status.textContent) status.textContent = text.online;
      });
      form.addEventListener("submit", function (event) {
        if (!navigator.onLine) return; // wireOfflineForms has stopped it and said why
        if (checked) { checked = false; return; } // the service answered: send as usual
        event.preventDefault();
        var submitter = event.submitter;
        form.dispatchEvent(new Event("change")); // keep the draft now
        reachable(form.action || window.location.href).then(function (ok) {
          if (!ok) {
            status.textContent = "";
            // A fresh text makes screen readers announce it again after a second try.
            setTimeout(function () { status.textContent = text.unreachable; }, 50);
            status.classList.add("mh-send-status--shown");
            return;
          }
          status.textContent = "";
          status.classList.remove("mh-send-status--shown");
          checked = true;
          if (form.requestSubmit) {
            form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
          } else {
            form.submit();
          }
        });
      });
    });
  }

  // -- page feedback ------------------------------------------------------------------------
  function sendFeedback(form) {
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response.json();
    });
  }

  function wirePageFeedback() {
    var widget = document.forms.feedback;
    var fallback = document.getElementById("mh-page-feedback");
    if (!widget || !fallback) return;
    document.documentElement.classList.add("mh-feedback-js");
    widget.hidden = false;
    widget.querySelectorAll("[type=submit]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var value = button.getAttribute("data-md-value");
        widget.firstElementChild.disabled = true;
        var note = widget.querySelector(".md-feedback__note [data-md-value='" + value + "']");
        if (note) note.hidden = false;
        var rating = fallback.querySelector("input[name=rating][value='" + value + "']");
        if (rating) rating.checked = true;
        sendFeedback(fallback).then(function (answer) {
          fallback.elements.token.value = answer.token || "";
          fallback.classList.add("mh-page-feedback--comment");
        }).catch(function () {
          if (note) note.textContent = navigator.onLine ? text.failed : text.offline;
        });
      });
    });
    fallback.addEventListener("submit", function (event) {
      event.preventDefault();
      sendFeedback(fallback).then(function () {
        // One thank-you: the widget's note already said it once, so it gives way to this one.
        widget.querySelectorAll(".md-feedback__note > *").forEach(function (note) { note.hidden = true; });
        var thanks = document.createElement("p");
        thanks.setAttribute("role", "status");
        thanks.textContent = text.thanks;
        fallback.replaceWith(thanks);
      }).catch(function () {
        if (navigator.onLine) {
          fallback.submit();
          return;
        }
        var status = fallback.querySelector(".mh-send-status") || document.createElement("p");
        status.className = "mh-send-status mh-send-status--shown";
        status.setAttribute("aria-live", "assertive");
        status.textContent = text.offline;
        fallback.querySelector("[type=submit]").insertAdjacentElement("beforebegin", status);
      });
    });
  }

  // -- printing -----------------------------------------------------------------------------
  function wirePrintButtons() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  // -- offline ------------------------------------------------------------------------------
  // Offline, the service worker shows the form page from its cache. Sending it would only end on
  // the browser's error page, so the send buttons wait, the notice says why, and the draft stays.
  function wireOfflineForms() {
    var forms = document.querySelectorAll("form.mh-form");
    if (!forms.length) return;
    var draft = document.querySelector("form[data-draft]");
    var kind = draft ? draft.getAttribute("data-draft") : "none";
    var notice = document.createElement("div");
    notice.className = "mh-offline";
    notice.setAttribute("role", "status");
    notice.tabIndex = -1;
    forms[0].insertAdjacentElement("beforebegin", notice);
    function update() {
      notice.hidden = navigator.onLine;
      notice.innerHTML = "";
      if (navigator.onLine) return;
      [text.offline, text["kept" + kind] || text.keptnone].forEach(function (line) {
        var p = document.createElement("p");
        p.textContent = line;
        notice.appendChild(p);
      });
    }
    forms.forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (navigator.onLine) return;
        event.preventDefault();
        update();
        notice.focus();
      });
    });
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    update();
  }

  function registerServiceWorker() {
    var manifest = document.querySelector("link[rel=manifest]");
    if (!manifest || !("serviceWorker" in navigator)) return;
    var worker = new URL("sw.js", manifest.href).href;
    // The worker's scope is its folder: the language's home. It fetches the whole language, so it
    // starts only once the page itself has loaded.
    function register() { navigator.serviceWorker.register(worker).catch(function () {}); }
    if (document.readyState === "complete") register();
    else window.addEventListener("load", register);
  }

  function init() {
    clearAcceptedDrafts();
    focusErrorSummary();
    guardOfflineSends();
    wirePrintButtons();
    wireOfflineForms();
    registerServiceWorker();
    // The rest can wait until the page has been drawn and the browser is idle.
    var later = window.requestIdleCallback || function (task) { return setTimeout(task, 1); };
    later(function () {
      addCounters();
      keepDrafts();
      wirePageFeedback();
    }, { timeout: 1000 });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
