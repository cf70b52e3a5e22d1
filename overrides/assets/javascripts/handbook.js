// What JavaScript adds to the handbook. Every form works without it; this only makes them nicer:
// - the error summary takes focus, so a screen reader reads it first;
// - long text fields count down the characters left;
// - a long form keeps a draft in the browser while it is typed (the agreement one per step),
//   restored after a reload or a lost connection and cleared once the service has accepted it;
// - "Was this page helpful?" sends its answer without leaving the page;
// - the printable agreement gets a print button.
(function () {
  "use strict";

  var TEXT = {
    nb: {
      left: function (n) { return "Du har " + n + " tegn igjen"; },
      over: function (n) { return "Du har " + n + " tegn for mye"; },
      restored: "Vi har fylt inn det du skrev tidligere på denne enheten.",
      restart: "Tøm skjemaet",
      thanks: "Takk for tilbakemeldingen!",
      failed: "Tilbakemeldingen ble ikke sendt. Prøv igjen senere."
    },
    en: {
      left: function (n) { return "You have " + n + " characters remaining"; },
      over: function (n) { return "You have " + n + " characters too many"; },
      restored: "We have filled in what you wrote earlier on this device.",
      restart: "Clear the form",
      thanks: "Thank you for your feedback!",
      failed: "The feedback was not sent. Please try again later."
    },
    da: {
      left: function (n) { return "Du har " + n + " tegn tilbage"; },
      over: function (n) { return "Du har " + n + " tegn for meget"; },
      restored: "Vi har udfyldt det, du skrev tidligere på denne enhed.",
      restart: "Ryd skemaet",
      thanks: "Tak for din feedback!",
      failed: "Din feedback blev ikke sendt. Prøv igen senere."
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
          if (note) note.textContent = text.failed;
        });
      });
    });
    fallback.addEventListener("submit", function (event) {
      event.preventDefault();
      sendFeedback(fallback).then(function () {
        var thanks = document.createElement("p");
        thanks.setAttribute("role", "status");
        thanks.textContent = text.thanks;
        fallback.replaceWith(thanks);
      }).catch(function () { fallback.submit(); });
    });
  }

  // -- printing -----------------------------------------------------------------------------
  function wirePrintButtons() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  function init() {
    clearAcceptedDrafts();
    focusErrorSummary();
    wirePrintButtons();
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
