// The search page of a cablekeep web edition: searches the edition's static index (search/),
// loaded with <script> elements so that the page works from file:// as over HTTP, no server.
// Queries are analyzed as `cablekeep search` analyzes them: runs of letters and digits, lower
// case, accents folded, English stems (from the edition's table of words whose term differs).
(function () {
  "use strict";

  var MAX_PREFIX_TERMS = 512;
  var PREFIX_SHARDS = 8;
  var SHOWN = 50;
  var STEM_ENDINGS = ["", "e", "s", "es", "ed", "ing", "ion", "ions", "y", "ies", "al", "ate", "ation"];

  var index = { meta: null, terms: {}, words: {}, docs: {} };
  var loading = {};

  window.ckSearch = {
    meta: function (m) { index.meta = m; },
    terms: function (n, rows) { index.terms[n] = rows; },
    words: function (n, rows) { index.words[n] = rows; },
    docs: function (n, rows) { index.docs[n] = rows; }
  };

  function pad(n) { return ("000" + n).slice(-Math.max(4, String(n).length)); }

  // Runs the script at src once; resolves when it has run.
  function load(src) {
    if (!loading[src]) {
      loading[src] = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = src;
        s.addEventListener("load", function () { resolve(); });
        s.addEventListener("error", function () { reject(new Error("could not load " + src)); });
        document.head.appendChild(s);
      });
    }
    return loading[src];
  }

  function shardOf(folder, n, table) {
    if (table[n]) { return Promise.resolve(table[n]); }
    return load("search/" + folder + "/" + pad(n) + ".js").then(function () { return table[n] || []; });
  }

  // The last shard whose first key is <= key (0 when none is).
  function findShard(firsts, key) {
    var lo = 0, hi = firsts.length - 1, at = 0;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (firsts[mid] <= key) { at = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return at;
  }

  // The first row whose key (row[0]) is >= key.
  function lowerBound(rows, key) {
    var lo = 0, hi = rows.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (rows[mid][0] < key) { lo = mid + 1; } else { hi = mid; }
    }
    return lo;
  }

  // JavaScript compares strings by UTF-16 units; the index sorts UTF-8 bytes. They agree but
  // for characters past U+FFFF, which no term of the index holds beside a BMP letter it sorts
  // after, so keys are compared as strings.
  function lookup(folder, firsts, table, key) {
    if (!firsts.length) { return Promise.resolve(null); }
    var n = findShard(firsts, key);
    return shardOf(folder, n, table).then(function (rows) {
      var i = lowerBound(rows, key);
      return i < rows.length && rows[i][0] === key ? rows[i] : null;
    });
  }

  // --- analysis, as fields::words_analyzer ---------------------------------------------------

  var FOLDED = { "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "þ": "th", "ð": "d", "ı": "i", "ŀ": "l", "ħ": "h", "ŧ": "t" };

  function utf8Length(s) { return unescape(encodeURIComponent(s)).length; }

  function fold(word) {
    var plain = word.normalize("NFD").replace(/\p{M}/gu, "");
    return plain.replace(/[ßæœøđłþðıŀħŧ]/g, function (c) { return FOLDED[c]; });
  }

  // The words of a text: runs of letters and digits, of fewer than 40 bytes, in lower case
  // with accents folded.
  function words(text) {
    var out = [];
    var runs = text.match(/[\p{Alphabetic}\p{N}]+/gu) || [];
    for (var i = 0; i < runs.length; i++) {
      if (utf8Length(runs[i]) < 40) { out.push(fold(runs[i].toLowerCase())); }
    }
    return out;
  }

  // The term of a word: its stem from the edition's table (a word with digits has none).
  function term(word) {
    if (/[0-9]/.test(word)) { return Promise.resolve(word); }
    return lookup("w", index.meta.words, index.words, word).then(function (row) {
      return row ? row[1] : word;
    });
  }

  // --- the query --------------------------------------------------------------------------------

  // Groups of the query: {label, word} or {label, prefix}; a phrase gives one group a word.
  function parse(q) {
    var groups = [];
    var re = /"([^"]*)"?|(\S+)/g;
    var m;
    while ((m = re.exec(q)) !== null) {
      if (m[1] !== undefined) {
        words(m[1]).forEach(function (w) { groups.push({ label: w, word: w }); });
        continue;
      }
      var token = m[2];
      if (token === "AND" || token === "OR" || token === "NOT") { continue; }
      var prefix = /\*$/.test(token);
      var ws = words(token);
      ws.forEach(function (w, i) {
        if (prefix && i === ws.length - 1) {
          groups.push({ label: w + "*", prefix: w });
        } else {
          groups.push({ label: w, word: w });
        }
      });
    }
    return groups;
  }

  function decode(b64) {
    var bytes = atob(b64);
    var out = [];
    var doc = 0, i = 0;
    while (i < bytes.length) {
      var gap = 0, shift = 0, b;
      do {
        b = bytes.charCodeAt(i++);
        gap += (b & 0x7f) * Math.pow(2, shift);
        shift += 7;
      } while (b >= 0x80);
      doc += gap;
      out.push([doc, bytes.charCodeAt(i++)]);
    }
    return out;
  }

  // The index's terms that start with `start`, from at most PREFIX_SHARDS shards.
  function termsStarting(start, found) {
    var firsts = index.meta.terms;
    if (!firsts.length) { return Promise.resolve(); }
    var n = findShard(firsts, start);
    var last = Math.min(firsts.length - 1, n + PREFIX_SHARDS - 1);
    function scan(k) {
      return shardOf("t", k, index.terms).then(function (rows) {
        for (var i = lowerBound(rows, start); i < rows.length; i++) {
          if (rows[i][0].lastIndexOf(start, 0) !== 0 || found.size > MAX_PREFIX_TERMS) { return; }
          found.set(rows[i][0], rows[i]);
        }
        if (k < last) { return scan(k + 1); }
      });
    }
    return scan(n);
  }

  // The term rows of a group.
  function rowsOf(group) {
    if (group.word !== undefined) {
      return term(group.word).then(function (t) {
        return lookup("t", index.meta.terms, index.terms, t).then(function (row) {
          return row ? [row] : [];
        });
      });
    }
    var starts = new Set([group.prefix]);
    return Promise.all(STEM_ENDINGS.map(function (e) {
      var w = group.prefix + e;
      return term(w).then(function (t) { starts.add(t); });
    })).then(function () {
      var found = new Map();
      var sorted = Array.from(starts).sort();
      return sorted.reduce(function (p, s) {
        return p.then(function () { return termsStarting(s, found); });
      }, Promise.resolve()).then(function () {
        return Array.from(found.keys()).sort().slice(0, MAX_PREFIX_TERMS).map(function (k) { return found.get(k); });
      });
    });
  }

  // The score an impact byte stands for (see IMPACT_SCALE in src/web/search.rs).
  var scoreOf = [];

  // Every document's score per group: Map doc -> {score, groups}.
  function rank(groupRows) {
    var scores = new Map();
    groupRows.forEach(function (rows, g) {
      var seen = new Map();
      rows.forEach(function (row) {
        decode(row[2]).forEach(function (p) {
          seen.set(p[0], (seen.get(p[0]) || 0) + scoreOf[p[1]]);
        });
      });
      seen.forEach(function (score, doc) {
        var s = scores.get(doc);
        if (!s) { s = { doc: doc, score: 0, groups: 0 }; scores.set(doc, s); }
        s.score += score;
        s.groups += 1;
      });
    });
    var all = [], some = [];
    var n = groupRows.length;
    scores.forEach(function (s) { (s.groups === n ? all : some).push(s); });
    all.sort(function (a, b) { return b.score - a.score || a.doc - b.doc; });
    some.sort(function (a, b) { return b.groups - a.groups || b.score - a.score || a.doc - b.doc; });
    return { all: all, some: some };
  }

  // --- showing results --------------------------------------------------------------------------

  function docRow(doc) {
    var per = index.meta.docs_per_shard;
    var n = Math.floor(doc / per);
    return shardOf("d", n, index.docs).then(function (rows) { return rows[doc % per]; });
  }


  // Appends `text` to `el`, words that match the query marked.
  function marked(el, text, marks) {
    var re = /[\p{Alphabetic}\p{N}]+/gu;
    var at = 0, m;
    while ((m = re.exec(text)) !== null) {
      var w = fold(m[0].toLowerCase());
      var hit = marks.some(function (k) { return w.lastIndexOf(k, 0) === 0; });
      if (!hit) { continue; }
      el.appendChild(document.createTextNode(text.slice(at, m.index)));
      var mark = document.createElement("mark");
      mark.textContent = m[0];
      el.appendChild(mark);
      at = m.index + m[0].length;
    }
    el.appendChild(document.createTextNode(text.slice(at)));
  }

  function item(hit, row, marks) {
    var li = document.createElement("li");
    li.setAttribute("data-id", row[1]);
    li.setAttribute("data-score", hit.score.toFixed(3));
    var h = document.createElement("a");
    h.href = row[0];
    h.className = "hit";
    marked(h, row[2] || row[1], marks);
    li.appendChild(h);
    var facts = document.createElement("p");
    facts.className = "facts";
    var parts = [row[1]];
    if (row[3]) { parts.push(row[3]); }
    if (row[4] >= 0) { parts.push(index.meta.origins[row[4]]); }
    if (row[5] >= 0) { parts.push(index.meta.classifications[row[5]]); }
    facts.textContent = parts.join(" · ");
    li.appendChild(facts);
    if (row[6]) {
      var p = document.createElement("p");
      p.className = "snippet";
      marked(p, row[6], marks);
      li.appendChild(p);
    }
    return li;
  }

  // Shows hits from..from+SHOWN in `list`; a button shows the next ones.
  function show(list, hits, from, marks) {
    var part = hits.slice(from, from + SHOWN);
    return Promise.all(part.map(function (h) { return docRow(h.doc); })).then(function (rows) {
      var old = list.parentNode.querySelector("button.more[data-for='" + list.id + "']");
      if (old) { old.remove(); }
      part.forEach(function (h, i) { if (rows[i]) { list.appendChild(item(h, rows[i], marks)); } });
      if (from + SHOWN < hits.length) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "more";
        b.setAttribute("data-for", list.id);
        b.textContent = "Show " + Math.min(SHOWN, hits.length - from - SHOWN) + " more";
        b.addEventListener("click", function () {
          show(list, hits, from + SHOWN, marks).then(function () {
            var next = list.children[from + SHOWN];
            if (next) { next.querySelector("a").focus(); }
          });
        });
        list.insertAdjacentElement("afterend", b);
      }
    });
  }

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function run(q, status, results, more, partial) {
    var t0 = performance.now();
    var groups = parse(q);
    if (!groups.length) {
      status.textContent = "Your search holds no word to look for (words are letters and digits).";
      results.setAttribute("data-ms", "0");
      results.setAttribute("data-state", "done");
      return Promise.resolve();
    }
    status.textContent = "Searching…";
    return load("search/meta.js").then(function () {
      if (!index.meta || index.meta.format !== 1) { throw new Error("this index's format is not known to this page"); }
      for (var b = 0; b < 256; b++) { scoreOf[b] = Math.expm1(b / index.meta.impact_scale); }
      return Promise.all(groups.map(rowsOf));
    }).then(function (groupRows) {
      var ranked = rank(groupRows);
      var marks = [];
      groups.forEach(function (g) { marks.push(g.word !== undefined ? g.word : g.prefix); });
      // A term is the start of the words it stands for, or of their form in -y (embassi: embassy).
      groupRows.forEach(function (rows) {
        rows.forEach(function (r) {
          marks.push(r[0]);
          if (/i$/.test(r[0])) { marks.push(r[0].slice(0, -1) + "y"); }
        });
      });
      var shows = [show(results, ranked.all, 0, marks)];
      if (groups.length > 1 && ranked.some.length) {
        partial.hidden = false;
        shows.push(show(more, ranked.some, 0, marks));
      }
      return Promise.all(shows).then(function () {
        var ms = Math.round(performance.now() - t0);
        results.setAttribute("data-ms", String(ms));
        results.setAttribute("data-count", String(ranked.all.length));
        var said = groups.map(function (g) { return g.label; }).join(" ");
        // A word in more cables than the index keeps for it finds only those kept.
        var capped = groupRows.some(function (rows) {
          return rows.some(function (r) { return r[1] > index.meta.max_postings; });
        });
        if (ranked.all.length && capped) {
          status.textContent = plural(ranked.all.length, "cable", "cables") + " found for “" + said + "” (" + ms + " ms). A word of it is in more than " + index.meta.max_postings + " cables: this page finds the " + index.meta.max_postings + " where it weighs most; cablekeep search finds every one.";
        } else if (ranked.all.length) {
          status.textContent = plural(ranked.all.length, "cable holds", "cables hold") + " every word of “" + said + "” (" + ms + " ms).";
        } else {
          status.textContent = "No cable of this edition holds every word of “" + said + "”" + (ranked.some.length ? "; some hold part of it." : ".");
        }
        // This page looks for every word; it must not seem to have read what it did not.
        if (/(^|\s)(AND|OR|NOT)(\s|$)|[()]|(^|\s)[A-Za-z]+:/.test(q)) {
          status.textContent += " Operators (AND, OR, NOT), parentheses and field filters are not read by this page: it looked for every word. cablekeep search and cablekeep serve read them.";
        }
        results.setAttribute("data-state", "done");
      });
    }).catch(function (e) {
      status.textContent = "The search failed: " + e.message + ".";
      results.setAttribute("data-state", "failed");
    });
  }

  function start() {
    var input = document.getElementById("q");
    var status = document.getElementById("status");
    var results = document.getElementById("results");
    var more = document.getElementById("more");
    var partial = document.getElementById("partial");
    if (!input || !status || !results) { return; }
    var q = new URLSearchParams(window.location.search).get("q") || "";
    input.value = q;
    if (q.trim()) {
      document.title = q + " · " + document.title;
      run(q, status, results, more, partial);
    } else {
      status.textContent = "Type words to search for and press Enter.";
      results.setAttribute("data-ms", "0");
      results.setAttribute("data-state", "done");
      input.focus();
    }
  }

  start();
}());
