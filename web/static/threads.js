// "Show more contributions": the next threads are appended to the list in place, without leaving
// the page. A file of its own because the Content-Security-Policy allows no inline script.
// Everything here is an improvement: the link is a real link to a page of the next threads, and
// stays one (opened in a new tab, or when the request fails, it is simply followed).
(function () {
  "use strict";
  if (window.civicThreads) {
    return;
  }
  window.civicThreads = true;
  var list = document.getElementById("threads");
  var status = document.getElementById("threads-status");
  if (!list) {
    return;
  }

  function partialUrl(href) {
    var url = new URL(href, window.location.href);
    url.searchParams.set("partial", "1");
    return url.toString();
  }

  // Append the answer's threads (skipping any already shown), put its own "Show more" link in place
  // of the one clicked (or none on the last page), then move the focus to the first new thread
  // and say in the live region that more contributions are shown.
  function append(link, html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var first = null;
    Array.prototype.slice.call(template.content.children).forEach(function (item) {
      if (item.tagName === "LI" && (!item.id || !document.getElementById(item.id))) {
        list.appendChild(item);
        first = first || item;
        if (window.civicForms && window.civicForms.counters) {
          window.civicForms.counters(item); // the reply forms' character counters
        }
      }
    });
    var holder = link.closest(".more-threads") || link;
    var next = template.content.querySelector(".more-threads");
    if (next) {
      holder.replaceWith(next);
    } else {
      holder.remove();
    }
    if (status) {
      status.textContent = status.getAttribute("data-shown");
    }
    if (first) {
      first.setAttribute("tabindex", "-1");
      first.focus();
    }
    return first;
  }

  function more(link) {
    if (link.getAttribute("aria-busy") === "true") {
      return Promise.resolve(null);
    }
    link.setAttribute("aria-busy", "true");
    return fetch(partialUrl(link.href), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) { return append(link, html); })
      .catch(function () { window.location.href = link.href; });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-more-threads]");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    more(link);
  });

  // A link to a contribution further down than the threads shown (#contribution-…): load the next
  // threads until it appears, a few pages at most, then scroll to it.
  var wanted = window.location.hash.slice(1);
  if (/^contribution-/.test(wanted) && !document.getElementById(wanted)) {
    var pages = 0;
    var step = function () {
      var link = document.querySelector("a[data-more-threads]");
      var found = document.getElementById(wanted);
      if (found) {
        found.scrollIntoView();
        return;
      }
      if (link && pages < 10) {
        pages += 1;
        more(link).then(step);
      }
    };
    step();
  }
})();
