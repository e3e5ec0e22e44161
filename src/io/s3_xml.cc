#include "io/s3_xml.h"

#include <charconv>

namespace fathom {

namespace {

Status Bad(std::string_view what) { return Status::Corruption("S3 XML: " + std::string(what)); }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == ':' || c == '-' || c == '.' || (static_cast<unsigned char>(c) >= 0x80);
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// A cursor over the document. Every method checks bounds before it reads.
class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in) {}

  Result<XmlElement> Document() {
    SkipMisc();
    if (StartsWith("<?xml")) {
      size_t end = in_.find("?>", pos_);
      if (end == std::string_view::npos) return Bad("unterminated XML declaration");
      pos_ = end + 2;
    }
    FATHOM_RETURN_IF_ERROR(SkipMiscChecked());
    if (StartsWith("<!")) return Bad("DOCTYPE and other declarations are not accepted");
    XmlElement root;
    FATHOM_RETURN_IF_ERROR(Element(0, &root));
    FATHOM_RETURN_IF_ERROR(SkipMiscChecked());
    if (pos_ != in_.size()) return Bad("bytes after the root element");
    return root;
  }

 private:
  bool StartsWith(std::string_view s) const { return in_.substr(pos_, s.size()) == s; }

  void SkipMisc() {
    while (pos_ < in_.size() && IsSpace(in_[pos_])) ++pos_;
  }

  // Whitespace and comments between top-level constructs.
  Status SkipMiscChecked() {
    for (;;) {
      SkipMisc();
      if (!StartsWith("<!--")) return Status::Ok();
      FATHOM_RETURN_IF_ERROR(Comment());
    }
  }

  Status Comment() {
    size_t end = in_.find("-->", pos_ + 4);
    if (end == std::string_view::npos) return Bad("unterminated comment");
    pos_ = end + 3;
    return Status::Ok();
  }

  Result<std::string> Name() {
    size_t start = pos_;
    while (pos_ < in_.size() && IsNameChar(in_[pos_])) ++pos_;
    if (pos_ == start) return Bad("expected a name at byte " + std::to_string(start));
    return std::string(in_.substr(start, pos_ - start));
  }

  // Attributes are checked for form and dropped: S3 documents carry only xmlns.
  Status Attributes() {
    for (;;) {
      size_t before = pos_;
      SkipMisc();
      if (pos_ >= in_.size()) return Bad("unterminated start tag");
      if (in_[pos_] == '>' || in_[pos_] == '/') return Status::Ok();
      if (pos_ == before) return Bad("expected whitespace before an attribute");
      FATHOM_RETURN_IF_ERROR(Name().status());
      SkipMisc();
      if (pos_ >= in_.size() || in_[pos_] != '=') return Bad("expected '=' after an attribute name");
      ++pos_;
      SkipMisc();
      if (pos_ >= in_.size() || (in_[pos_] != '"' && in_[pos_] != '\'')) return Bad("expected a quoted attribute value");
      char quote = in_[pos_++];
      size_t end = in_.find(quote, pos_);
      if (end == std::string_view::npos) return Bad("unterminated attribute value");
      FATHOM_RETURN_IF_ERROR(XmlUnescape(in_.substr(pos_, end - pos_)).status());
      pos_ = end + 1;
    }
  }

  Status Element(int depth, XmlElement* out) {
    if (depth >= kS3XmlDepthMax) return Bad("elements nested deeper than " + std::to_string(kS3XmlDepthMax));
    if (pos_ >= in_.size() || in_[pos_] != '<') return Bad("expected '<'");
    ++pos_;
    FATHOM_ASSIGN_OR_RETURN(out->name, Name());
    FATHOM_RETURN_IF_ERROR(Attributes());
    if (in_[pos_] == '/') {
      if (pos_ + 1 >= in_.size() || in_[pos_ + 1] != '>') return Bad("expected '/>'");
      pos_ += 2;
      return Status::Ok();
    }
    ++pos_;  // '>'
    for (;;) {
      if (pos_ >= in_.size()) return Bad("unterminated element <" + out->name + ">");
      if (StartsWith("</")) {
        pos_ += 2;
        FATHOM_ASSIGN_OR_RETURN(std::string closing, Name());
        if (closing != out->name) return Bad("</" + closing + "> closes <" + out->name + ">");
        SkipMisc();
        if (pos_ >= in_.size() || in_[pos_] != '>') return Bad("expected '>' after </" + closing);
        ++pos_;
        return Status::Ok();
      }
      if (StartsWith("<!--")) {
        FATHOM_RETURN_IF_ERROR(Comment());
      } else if (StartsWith("<![CDATA[")) {
        size_t end = in_.find("]]>", pos_ + 9);
        if (end == std::string_view::npos) return Bad("unterminated CDATA section");
        out->text.append(in_.substr(pos_ + 9, end - pos_ - 9));
        pos_ = end + 3;
      } else if (StartsWith("<?") || StartsWith("<!")) {
        return Bad("processing instructions and declarations are not accepted inside elements");
      } else if (in_[pos_] == '<') {
        out->children.emplace_back();
        FATHOM_RETURN_IF_ERROR(Element(depth + 1, &out->children.back()));
      } else {
        size_t end = in_.find('<', pos_);
        if (end == std::string_view::npos) end = in_.size();
        FATHOM_ASSIGN_OR_RETURN(std::string text, XmlUnescape(in_.substr(pos_, end - pos_)));
        out->text += text;
        pos_ = end;
      }
    }
  }

  std::string_view in_;
  size_t pos_ = 0;
};

Result<uint64_t> ParseUnsigned(std::string_view text, std::string_view what) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Bad(std::string(what) + " is not an unsigned integer: '" + std::string(text.substr(0, 40)) + "'");
  }
  return value;
}

Result<const XmlElement*> Required(const XmlElement& parent, std::string_view name) {
  const XmlElement* child = parent.Child(name);
  if (child == nullptr) return Bad("<" + parent.name + "> has no <" + std::string(name) + ">");
  return child;
}

}  // namespace

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const XmlElement& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

Result<std::string> XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t amp = text.find('&', pos);
    if (amp == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, amp - pos));
    size_t semi = text.find(';', amp);
    if (semi == std::string_view::npos || semi - amp > 12) return Bad("unterminated character reference");
    std::string_view ref = text.substr(amp + 1, semi - amp - 1);
    if (ref == "lt") {
      out.push_back('<');
    } else if (ref == "gt") {
      out.push_back('>');
    } else if (ref == "amp") {
      out.push_back('&');
    } else if (ref == "quot") {
      out.push_back('"');
    } else if (ref == "apos") {
      out.push_back('\'');
    } else if (ref.size() >= 2 && ref[0] == '#') {
      bool hex = ref[1] == 'x';
      std::string_view digits = ref.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      // Code points XML allows: no NUL, no surrogates, nothing past U+10FFFF.
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || cp == 0 ||
          cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return Bad("bad numeric character reference &" + std::string(ref) + ";");
      }
      AppendUtf8(cp, &out);
    } else {
      return Bad("unknown entity &" + std::string(ref) + ";");
    }
    pos = semi + 1;
  }
  return out;
}

Result<XmlElement> ParseXml(std::string_view bytes) {
  if (bytes.size() > kS3XmlBytesMax) {
    return Bad("document of " + std::to_string(bytes.size()) + " bytes exceeds " + std::to_string(kS3XmlBytesMax));
  }
  return Parser(bytes).Document();
}

Result<ListBucketPage> ParseListBucketResult(std::string_view bytes) {
  FATHOM_ASSIGN_OR_RETURN(XmlElement root, ParseXml(bytes));
  if (root.name != "ListBucketResult") return Bad("expected <ListBucketResult>, got <" + root.name + ">");
  ListBucketPage page;
  if (const XmlElement* truncated = root.Child("IsTruncated")) {
    if (truncated->text == "true") {
      page.is_truncated = true;
    } else if (truncated->text != "false") {
      return Bad("IsTruncated is neither true nor false");
    }
  }
  for (const XmlElement& child : root.children) {
    if (child.name != "Contents") continue;
    FATHOM_ASSIGN_OR_RETURN(const XmlElement* key, Required(child, "Key"));
    FATHOM_ASSIGN_OR_RETURN(const XmlElement* size, Required(child, "Size"));
    FATHOM_ASSIGN_OR_RETURN(uint64_t size_bytes, ParseUnsigned(size->text, "Size"));
    if (key->text.empty()) return Bad("empty <Key>");
    page.objects.push_back({key->text, size_bytes});
  }
  if (page.is_truncated) {
    FATHOM_ASSIGN_OR_RETURN(const XmlElement* token, Required(root, "NextContinuationToken"));
    if (token->text.empty()) return Bad("empty NextContinuationToken on a truncated page");
    page.next_continuation_token = token->text;
  }
  return page;
}

Result<S3ErrorDocument> ParseS3Error(std::string_view bytes) {
  FATHOM_ASSIGN_OR_RETURN(XmlElement root, ParseXml(bytes));
  if (root.name != "Error") return Bad("expected <Error>, got <" + root.name + ">");
  FATHOM_ASSIGN_OR_RETURN(const XmlElement* code, Required(root, "Code"));
  S3ErrorDocument error;
  error.code = code->text;
  if (const XmlElement* message = root.Child("Message")) error.message = message->text;
  return error;
}

}  // namespace fathom
