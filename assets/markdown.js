// Markdown for model output, and the live reply.
//
// `ChatMarkdown` draws a stored message: no raw HTML (there is no rehype-raw), react-markdown's
// default urlTransform (javascript:, vbscript:, data: links blanked), images and links through
// safe_markdown.js, code blocks highlighted with a copy button.
//
// `LiveReply` draws a reply while it streams. It reads the reply's feed (/api/live/<id>,
// server-sent events carrying only the text that is new) and keeps the text itself; finished
// blocks are drawn once and never parsed again, only the last one is. EventSource reconnects
// by itself after a blip with the last event id, and the server sends what was missed from
// there (nothing twice); a reload starts from the beginning of the reply.
import { createElement as h, memo, useContext, useEffect, useRef, useState } from "react";
import ReactMarkdown from "react-markdown";
import remarkMath from "remark-math";
import remarkGfm from "remark-gfm";
import rehypeKatex from "rehype-katex";
import rehypeUnwrapImages from "rehype-unwrap-images";
import "katex/dist/katex.min.css";
import { PrismAsyncLight as SyntaxHighlighter } from "react-syntax-highlighter";
import oneLight from "react-syntax-highlighter/dist/esm/styles/prism/one-light";
import oneDark from "react-syntax-highlighter/dist/esm/styles/prism/one-dark";
import { Button, Code, Flex, Spinner, Text } from "@radix-ui/themes";
import CopyIcon from "lucide-react/dist/esm/icons/copy.mjs";
import { ColorModeContext } from "$/utils/context";
import { SafeImage, SafeLink } from "./safe_markdown.js";

const REMARK = [remarkMath, remarkGfm];
const REHYPE = [rehypeKatex, rehypeUnwrapImages];
const CODE_STYLE = { padding: "1em 3.2em 1em 1em", marginTop: "0.75em", marginBottom: "0.75em" };
const CODE_TAG = { style: { whiteSpace: "pre-wrap" } };
const COPY_STYLE = { position: "absolute", top: "0.6em", right: "0.6em" };

function CodeBlock({ node, ...rest }) {
  const { resolvedColorMode } = useContext(ColorModeContext) || {};
  const child = rest.children && rest.children.props ? rest.children.props : {};
  const parts = child.children;
  const code = String(Array.isArray(parts) ? parts.join("\n") : parts ?? "").replace(/\n$/, "");
  const match = (child.className || "").match(/language-(?<lang>.*)/);
  return h("div", { style: { position: "relative" } },
    h(SyntaxHighlighter, {
      className: "code-block", codeTagProps: CODE_TAG, customStyle: CODE_STYLE,
      language: match ? match[1] : "", style: resolvedColorMode === "dark" ? oneDark : oneLight,
      wrapLongLines: true,
    }, code),
    h(Button, {
      type: "button", "aria-label": "Copy code", title: "Copy code", size: "1",
      variant: "ghost", color: "gray", style: COPY_STYLE,
      onClick: () => navigator.clipboard && navigator.clipboard.writeText(code),
    }, h(CopyIcon, { size: 14 })));
}

// Paragraphs, lists and headings as plain elements, styled by `.md <tag>` in chat.css.
const plain = (tag) => ({ node, ...props }) => h(tag, props);
const COMPONENTS = {
  ...Object.fromEntries(["p", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"]
    .map((tag) => [tag, plain(tag)])),
  a: ({ node, ...props }) => h(SafeLink, props),
  img: ({ node, ...props }) => h(SafeImage, props),
  code: ({ node, ...props }) => h(Code, props),
  pre: CodeBlock,
};

const Block = memo(function Block({ text }) {
  return h(ReactMarkdown, { components: COMPONENTS, remarkPlugins: REMARK, rehypePlugins: REHYPE },
    text);
});

export function ChatMarkdown({ text, className }) {
  return h("div", { className: className || "md" }, h(Block, { text: text || "" }));
}

// --- the live reply ---------------------------------------------------------------------
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
// A block that goes on past a blank line: a list item, an indented line (a list's paragraph,
// indented code), a table row or a quote.
const CONTINUES = /^(?: {0,3}(?:[-*+]|\d{1,9}[.)])(?:\s|$)|\s|\||>)/;

// Where `text` (which starts outside any code fence) splits into blocks that render the same
// whatever comes next: after a blank line outside a code fence, when the line after it starts
// a new block. The offsets of the cuts, ascending.
export function cuts(text) {
  const found = [];
  let fence = null;
  let blank = -1; // the end of the blank line(s) seen since the last non-blank line
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf("\n", pos);
    if (end < 0) break; // an unfinished line decides nothing yet
    end += 1;
    const line = text.slice(pos, end);
    const open = FENCE.exec(line);
    if (fence === null) {
      if (!line.trim()) {
        blank = end;
      } else {
        if (blank > 0 && !CONTINUES.test(line)) found.push(blank);
        blank = -1;
        if (open) fence = open[1];
      }
    } else if (open && open[1][0] === fence[0] && open[1].length >= fence.length &&
               !line.slice(open[0].length).trim()) {
      fence = null;
    }
    pos = end;
  }
  return found;
}

function feedUrl(messageId) {
  return "/api/live/" + encodeURIComponent(messageId);
}

// One feed per reply for the whole page. A live block that unmounts and mounts again for the
// same reply (a new chat's move from / to /chat/<id>, which loads that page's code first)
// keeps the connection and the text read so far: nothing waits for the new page.
const FEEDS = new Map();
const KEEP_UNUSED_MS = 5000;

function openFeed(messageId) {
  const known = FEEDS.get(messageId);
  if (known) {
    clearTimeout(known.closing);
    known.closing = null;
    return known;
  }
  const feed = { blocks: [], tail: "", listeners: new Set(), closing: null };
  const source = new EventSource(feedUrl(messageId));
  feed.source = source;
  source.addEventListener("delta", (event) => {
    let piece;
    try { piece = JSON.parse(event.data); } catch (e) { return; }
    if (!piece.t) return;
    let tail = feed.tail + piece.t;
    let taken = 0;
    for (const cut of cuts(tail)) {
      feed.blocks.push(tail.slice(taken, cut));
      taken = cut;
    }
    feed.tail = taken ? tail.slice(taken) : tail;
    feed.listeners.forEach((listener) => listener());
  });
  // Ended: the stored message takes this one's place (the server closes the feed; without
  // this EventSource would open it again). A later block for it starts afresh.
  source.addEventListener("end", () => closeFeed(messageId, feed));
  FEEDS.set(messageId, feed);
  return feed;
}

function closeFeed(messageId, feed) {
  feed.source.close();
  if (FEEDS.get(messageId) === feed) FEEDS.delete(messageId);
}

function releaseFeed(messageId, feed, listener) {
  feed.listeners.delete(listener);
  if (feed.listeners.size || feed.closing) return;
  feed.closing = setTimeout(() => closeFeed(messageId, feed), KEEP_UNUSED_MS);
}

export function LiveReply({ messageId }) {
  // Finished blocks, and the text after them (one block, still growing).
  const live = useRef({ blocks: [], tail: "" });
  const [, redraw] = useState(0);

  useEffect(() => {
    live.current = { blocks: [], tail: "" };
    if (!messageId) {
      redraw((n) => n + 1);
      return undefined;
    }
    const feed = openFeed(messageId);
    const listener = () => {
      live.current = { blocks: feed.blocks, tail: feed.tail };
      redraw((n) => n + 1);
    };
    feed.listeners.add(listener);
    listener();
    return () => releaseFeed(messageId, feed, listener);
  }, [messageId]);

  const { blocks, tail } = live.current;
  if (!blocks.length && !tail) {
    return h(Flex, { className: "rx-Stack typing", "data-testid": "typing", direction: "row",
                     gap: "3", align: "start" },
      h(Spinner, { size: "1" }), h(Text, { as: "p", color: "gray", size: "2" }, "Thinking…"));
  }
  return h("div", { className: "md" },
    blocks.map((text, i) => h(Block, { key: i, text })),
    h(Block, { key: "tail", text: tail }));
}
