import Mustache

/// A tenant's wording of the code message for one purpose, locale and channel, in Mustache with the variables
/// `code`, `minutes` (to expiry), `brand` and `purpose`. Saved only when valid (`MessageTemplate.validated`): it
/// parses, and it puts the code in the message.
public struct MessageTemplate: Sendable, Equatable {
    public var tenantID: String
    /// `default` serves every purpose without a template of its own.
    public var purpose: String
    /// `en`, `hi`, `hi-IN` …; a message in `hi-IN` falls back to `hi`, then `en`.
    public var locale: String
    public var channel: Channel
    /// The SMS text, or the email's plain-text part.
    public var body: String
    /// The email subject (email only).
    public var subject: String?
    /// The email's HTML part (email only; variables are HTML-escaped here).
    public var html: String?
    /// India's DLT content template id this SMS text was registered under (SMS only).
    public var dltTemplateID: String?
    /// Appends the WebOTP line `@domain #code`, so a browser on that domain can fill the code in (SMS only).
    public var webOTPDomain: String?
    /// Appends the app's 11-character SMS Retriever hash, so an Android app can read the code (SMS only).
    public var androidAppHash: String?
    public var updatedAt: Timestamp

    public init(
        tenantID: String, purpose: String, locale: String, channel: Channel, body: String, subject: String? = nil, html: String? = nil,
        dltTemplateID: String? = nil, webOTPDomain: String? = nil, androidAppHash: String? = nil, updatedAt: Timestamp
    ) {
        self.tenantID = tenantID
        self.purpose = purpose
        self.locale = locale
        self.channel = channel
        self.body = body
        self.subject = subject
        self.html = html
        self.dltTemplateID = dltTemplateID
        self.webOTPDomain = webOTPDomain
        self.androidAppHash = androidAppHash
        self.updatedAt = updatedAt
    }
}

/// The values a template is rendered with.
public struct TemplateValues: Sendable {
    public var code: String
    public var minutes: Int
    public var brand: String
    public var purpose: String?

    public init(code: String, minutes: Int, brand: String, purpose: String?) {
        self.code = code
        self.minutes = minutes
        self.brand = brand
        self.purpose = purpose
    }

    var dictionary: [String: Any] { ["code": code, "minutes": minutes, "brand": brand, "purpose": purpose ?? ""] }
}

/// A rendered message: what the provider gets.
public struct RenderedMessage: Sendable, Equatable {
    public var subject: String?
    public var text: String
    public var html: String?
    public var dltTemplateID: String?

    public init(subject: String?, text: String, html: String?, dltTemplateID: String?) {
        self.subject = subject
        self.text = text
        self.html = html
        self.dltTemplateID = dltTemplateID
    }
}

extension MessageTemplate {
    /// Renders the template. Text parts are not HTML-escaped; the HTML part is.
    public func render(_ values: TemplateValues) throws(TemplateError) -> RenderedMessage {
        let context = values.dictionary
        var text = try Self.compile(body, field: "body", html: false).render(context)
        if channel == .sms {
            if let hash = androidAppHash { text += "\n\n" + hash }
            if let domain = webOTPDomain { text += "\n\n@\(domain) #\(values.code)" }
        }
        var renderedSubject: String?
        if let subject { renderedSubject = try Self.compile(subject, field: "subject", html: false).render(context) }
        if channel == .email && renderedSubject == nil { renderedSubject = "Your \(values.brand) verification code" }
        var renderedHTML: String?
        if let html { renderedHTML = try Self.compile(html, field: "html", html: true).render(context) }
        return RenderedMessage(subject: renderedSubject, text: text, html: renderedHTML, dltTemplateID: dltTemplateID)
    }

    static func compile(_ source: String, field: String, html: Bool) throws(TemplateError) -> MustacheTemplate {
        do {
            return try MustacheTemplate(string: html ? source : "{{% CONTENT_TYPE: TEXT }}\n" + source)
        } catch let error as MustacheTemplate.ParserError {
            // The pragma line shifts text templates by one.
            let line = error.context.lineNumber - (html ? 0 : 1)
            throw TemplateError(field: field, "does not parse as Mustache (line \(line), column \(error.context.columnNumber))")
        } catch {
            throw TemplateError(field: field, "does not parse as Mustache")
        }
    }
}

/// Why a template was refused, naming the field.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let reason: String
    public init(field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }
    public var description: String { "\(field) \(reason)" }
}
