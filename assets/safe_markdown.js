// Images and links in model output. An image from another site is never fetched on its own
// (its URL could carry the conversation to whoever wrote it): it is shown as a link naming
// the host, opened in a new tab only on a click. Links open in a new tab with no referrer.
import { createElement as h } from "react";
import { Link } from "@radix-ui/themes";
import ImageIcon from "lucide-react/dist/esm/icons/image.mjs";

const NEW_TAB = { target: "_blank", rel: "noopener noreferrer" };

// Resolved the way the browser would fetch it (`//host`, `HTTP://`, relative paths).
function resolve(url) {
  if (!url || typeof window === "undefined") return null;
  try {
    return new URL(url, window.location.href);
  } catch {
    return null;
  }
}

// Loading these reaches no one but this app: its own origin, or bytes already in the page.
function loadsLocally(url) {
  return url.origin === window.location.origin || url.protocol === "data:" ||
    url.protocol === "blob:";
}

export function SafeImage({ src, alt, title }) {
  const url = resolve(src);
  if (url && loadsLocally(url)) {
    return h("img", { src: url.href, alt, title, className: "md-image" });
  }
  const label = alt ? `: ${alt}` : "";
  if (!url || !/^https?:$/.test(url.protocol)) {
    // react-markdown blanked a script or data URL (or it is not a web URL at all).
    return h("span", { className: "remote-image blocked" }, `Image not shown${label}`);
  }
  return h(
    "a",
    { ...NEW_TAB, href: url.href, title: title || url.href, className: "remote-image",
      "data-testid": "remote-image" },
    h(ImageIcon, { size: 14, "aria-hidden": true }),
    h("span", { className: "remote-image-host" }, `Image from ${url.host}`),
    label && h("span", { className: "remote-image-alt" }, label),
  );
}

export function SafeLink({ href, children, ...rest }) {
  // An empty href is what react-markdown leaves of a javascript:/vbscript:/data: link.
  if (!href) return h("span", { className: "md-link-removed" }, children);
  // In-page anchors (footnotes) stay in the page; anything else opens a new tab.
  const target = href.startsWith("#") ? {} : NEW_TAB;
  return h(Link, { ...rest, href, ...target }, children);
}
