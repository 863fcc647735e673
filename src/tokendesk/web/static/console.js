// Tokendesk console: small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#input-id">.
  function copy(button) {
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) { return; }
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, function () {});
    } else {
      source.select();
      document.execCommand("copy");
      done();
    }
  }

  // Scope presets: ticking one adds its scopes to the Scope field, unticking removes them.
  function togglePreset(box) {
    var field = document.getElementById("f-scopes");
    if (!field) { return; }
    var current = field.value.split(/[\s,]+/).filter(Boolean);
    var scopes = box.getAttribute("data-scopes").split(" ");
    if (box.checked) {
      scopes.forEach(function (s) { if (current.indexOf(s) < 0) { current.push(s); } });
    } else {
      var keep = {};
      document.querySelectorAll("[data-scopes]").forEach(function (other) {
        if (other !== box && other.checked) {
          other.getAttribute("data-scopes").split(" ").forEach(function (s) { keep[s] = true; });
        }
      });
      current = current.filter(function (s) { return scopes.indexOf(s) < 0 || keep[s]; });
    }
    field.value = current.join(",");
  }

  // Live search of a list: <input data-filter="#list"> over <li data-filter-text>.
  function filterList(input) {
    var list = document.querySelector(input.getAttribute("data-filter"));
    if (!list) { return; }
    var words = input.value.toLowerCase().trim();
    list.querySelectorAll("[data-filter-text]").forEach(function (item) {
      item.hidden = words !== "" && item.getAttribute("data-filter-text").indexOf(words) < 0;
    });
  }

  // Fields for one grant type only: <div data-grant-only="authorization_code">.
  function showGrantFields() {
    var chosen = document.querySelector("[data-grant-choice]:checked");
    document.querySelectorAll("[data-grant-only]").forEach(function (block) {
      block.hidden = chosen !== null && block.getAttribute("data-grant-only") !== chosen.value;
    });
  }

  // Default scopes per grant type: <input data-grant-choice data-default-scopes="a,b">.
  // Choosing another grant type puts its defaults in the Scope field, unless the field
  // holds something else than the previous grant type's defaults (typed by the person).
  var lastGrant = null;
  function scopeList(text) {
    return (text || "").split(/[\s,]+/).filter(Boolean).join(",");
  }
  function switchDefaults(choice) {
    var field = document.getElementById("f-scopes");
    if (field && lastGrant && lastGrant !== choice &&
        scopeList(field.value) === scopeList(lastGrant.getAttribute("data-default-scopes"))) {
      field.value = choice.getAttribute("data-default-scopes");
    }
    lastGrant = choice;
  }

  // Error summary links: focus the field itself (a radio group or list: its first input).
  function focusField(link) {
    var name = link.getAttribute("data-field-link");
    var target = document.getElementById("f-" + name) ||
      document.querySelector('[data-field="' + name + '"] input, [data-field="' + name +
                             '"] select, [data-field="' + name + '"] textarea');
    if (!target) { return false; }
    target.focus();
    target.scrollIntoView({block: "center"});
    return true;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) { event.preventDefault(); copy(button); }
    var link = event.target.closest("[data-field-link]");
    if (link && focusField(link)) { event.preventDefault(); }
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-scopes]")) { togglePreset(event.target); }
    if (event.target.matches("[data-grant-choice]")) {
      switchDefaults(event.target);
      showGrantFields();
    }
  });
  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-filter]")) { filterList(event.target); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
    showGrantFields();
    lastGrant = document.querySelector("[data-grant-choice]:checked");
    document.querySelectorAll("[data-filter]").forEach(filterList);
  });
})();
