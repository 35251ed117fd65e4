package web

// Text is every sentence of the pages in one language. The English texts
// of the tutorial are kept word for word.
type Text struct {
	// Tag is the language's BCP 47 tag: the pages' lang attribute and the
	// value the language switch sends.
	Tag string
	// Name is the language's name in itself, for the language switch.
	Name string

	// Site ends every page's title, after the page's own.
	Site string

	WelcomeTitle, SetEmailTitle, DeletedTitle, EndedTitle string
	// The page that asks before deleting the email, when a GET
	// /delete_email does not show where it came from.
	ConfirmDeleteTitle, ConfirmDelete, ConfirmDeleteBody string

	// The prompt is PromptBefore, a link to the form reading PromptLink,
	// then PromptAfter; the greeting is WelcomeBefore, the email, then
	// WelcomeAfter.
	PromptBefore, PromptLink, PromptAfter string
	WelcomeBefore, WelcomeAfter           string
	DeleteEmail, EndSession               string

	EmailLabel, Submit      string
	Deleted, BackToStart    string
	Ended, EndedBody, Again string
	Preferences             string // names the switches' landmark
	Language, Theme         string
	Light, Dark, System     string

	// The debug panel.
	Debug, DebugStore, DebugKey, DebugTTL, DebugValues string
	DebugNoSession, DebugNever, DebugInCookie          string

	msgs [msgCount]string
}

// Msg names a sentence that a handler chooses: an error page's title or
// message, or why an email address was rejected.
type Msg int

// The sentences handlers choose. Each error page has a title and a message.
const (
	NoMsg Msg = iota
	BadRequestTitle
	BadRequest
	RequestTooLargeTitle
	RequestTooLarge
	TooMuchDataTitle
	TooMuchData
	RetiredTitle
	Retired
	UnavailableTitle
	Unavailable
	RefusedTitle
	Refused
	NotFoundTitle
	NotFound
	MethodNotAllowedTitle
	MethodNotAllowed
	InternalTitle
	Internal
	UnknownPreferenceTitle
	UnknownPreference
	EmailMissing
	EmailTooLong
	EmailInvalid
	msgCount
)

// Say returns the sentence m in t's language; "" for NoMsg.
func (t *Text) Say(m Msg) string {
	if m <= NoMsg || m >= msgCount {
		return ""
	}
	return t.msgs[m]
}

var languages = []*Text{&english, &chinese}

// Languages returns the pages' languages; the first is the default. The
// slice is shared: callers must not modify it.
func Languages() []*Text { return languages }

// Language returns the Text whose Tag is tag, or nil.
func Language(tag string) *Text {
	for _, t := range Languages() {
		if t.Tag == tag {
			return t
		}
	}
	return nil
}

var english = Text{
	Tag:  "en",
	Name: "English",

	Site:          "Sessions",
	WelcomeTitle:  "Welcome",
	SetEmailTitle: "Enter your email",
	DeletedTitle:  "Session deleted",
	EndedTitle:    "Session ended",

	ConfirmDeleteTitle: "Delete your email",
	ConfirmDelete:      "Delete your email?",
	ConfirmDeleteBody:  "This link did not show that it came from this site, so nothing has been deleted yet.",

	PromptBefore:  "Welcome! Please enter your email ",
	PromptLink:    "here.",
	WelcomeBefore: "Welcome ",
	WelcomeAfter:  "!",
	DeleteEmail:   "Delete my email",
	EndSession:    "End my session",

	EmailLabel:  "Enter your email address:",
	Submit:      "Submit",
	Deleted:     "Session deleted!",
	BackToStart: "Back to the start",
	Ended:       "Session ended.",
	EndedBody:   "Everything this site kept for you is gone.",
	Again:       "Start again",

	Preferences: "Preferences",
	Language:    "Language",
	Theme:       "Theme",
	Light:       "Light",
	Dark:        "Dark",
	System:      "System",

	Debug:          "Session (debug mode)",
	DebugStore:     "Store",
	DebugKey:       "Key",
	DebugTTL:       "Expires in",
	DebugValues:    "Values",
	DebugNoSession: "No session: nothing is stored and no cookie was sent.",
	DebugNever:     "never",
	DebugInCookie:  "in the cookie (signed)",

	msgs: [msgCount]string{
		BadRequestTitle:        "Bad request",
		BadRequest:             "The form could not be read.",
		RequestTooLargeTitle:   "Request too large",
		RequestTooLarge:        "The form was larger than this page accepts.",
		TooMuchDataTitle:       "Too much data",
		TooMuchData:            "This session cannot hold that much data. Nothing was saved.",
		RetiredTitle:           "Session renewed",
		Retired:                "This session was renewed moments ago, in another tab or window. Nothing was saved: reload the page and try again.",
		UnavailableTitle:       "Temporarily unavailable",
		Unavailable:            "Sessions cannot be reached right now. Nothing was lost; please try again in a few seconds.",
		RefusedTitle:           "Request refused",
		Refused:                "This request came from another site, so nothing was changed.",
		NotFoundTitle:          "Page not found",
		NotFound:               "There is nothing at this address.",
		MethodNotAllowedTitle:  "Method not allowed",
		MethodNotAllowed:       "This page does not accept that kind of request.",
		InternalTitle:          "Something went wrong",
		Internal:               "The server hit an unexpected error. Please try again.",
		UnknownPreferenceTitle: "Unknown setting",
		UnknownPreference:      "That language or theme is not offered here.",
		EmailMissing:           "Please enter your email address.",
		EmailTooLong:           "That email address is too long (at most 254 characters).",
		EmailInvalid:           "That is not a valid email address.",
	},
}

var chinese = Text{
	Tag:  "zh-Hans",
	Name: "简体中文",

	Site:          "会话",
	WelcomeTitle:  "欢迎",
	SetEmailTitle: "输入电子邮箱",
	DeletedTitle:  "会话已删除",
	EndedTitle:    "会话已结束",

	ConfirmDeleteTitle: "删除邮箱",
	ConfirmDelete:      "删除您的邮箱？",
	ConfirmDeleteBody:  "无法确认此链接来自本站，因此尚未删除任何内容。",

	PromptBefore:  "欢迎！请在",
	PromptLink:    "这里",
	PromptAfter:   "输入您的电子邮箱。",
	WelcomeBefore: "欢迎，",
	WelcomeAfter:  "！",
	DeleteEmail:   "删除我的邮箱",
	EndSession:    "结束我的会话",

	EmailLabel:  "请输入您的电子邮箱地址：",
	Submit:      "提交",
	Deleted:     "会话已删除！",
	BackToStart: "返回首页",
	Ended:       "会话已结束。",
	EndedBody:   "本站为您保存的一切都已删除。",
	Again:       "重新开始",

	Preferences: "偏好设置",
	Language:    "语言",
	Theme:       "主题",
	Light:       "浅色",
	Dark:        "深色",
	System:      "跟随系统",

	Debug:          "会话（调试模式）",
	DebugStore:     "存储",
	DebugKey:       "键",
	DebugTTL:       "剩余时间",
	DebugValues:    "值",
	DebugNoSession: "尚无会话：没有保存任何内容，也没有发送 Cookie。",
	DebugNever:     "永不过期",
	DebugInCookie:  "保存在 Cookie 中（已签名）",

	msgs: [msgCount]string{
		BadRequestTitle:        "请求有误",
		BadRequest:             "无法读取表单。",
		RequestTooLargeTitle:   "请求过大",
		RequestTooLarge:        "表单超出了此页面可接受的大小。",
		TooMuchDataTitle:       "数据过多",
		TooMuchData:            "此会话无法保存这么多数据，未保存任何内容。",
		RetiredTitle:           "会话已更新",
		Retired:                "此会话刚刚在另一个标签页或窗口中更新，未保存任何内容：请刷新页面后重试。",
		UnavailableTitle:       "暂时不可用",
		Unavailable:            "目前无法访问会话。没有丢失任何内容，请几秒钟后重试。",
		RefusedTitle:           "请求被拒绝",
		Refused:                "此请求来自其他网站，因此没有做任何更改。",
		NotFoundTitle:          "找不到页面",
		NotFound:               "此地址没有任何内容。",
		MethodNotAllowedTitle:  "不允许的请求方法",
		MethodNotAllowed:       "此页面不接受这种请求。",
		InternalTitle:          "出错了",
		Internal:               "服务器遇到意外错误，请重试。",
		UnknownPreferenceTitle: "无法识别的设置",
		UnknownPreference:      "这里不提供该语言或主题。",
		EmailMissing:           "请输入您的电子邮箱地址。",
		EmailTooLong:           "该电子邮箱地址太长（最多 254 个字符）。",
		EmailInvalid:           "这不是有效的电子邮箱地址。",
	},
}
