package gwproto

// Tag dictionary (spec §2.7). Constant names keep the type prefix of the
// libpurple NM_A_* names (Sz string, Fa field array, Ud/Uw number, B bool) so
// that NM_A_SZ_OBJECT_ID and NM_A_UD_OBJECT_ID stay distinct. Six tags are
// spelled "nnm…" on the wire.
const (
	TagIPAddress          = "nnmIPAddress"
	TagPort               = "nnmPort"
	TagFaFolder           = "NM_A_FA_FOLDER"
	TagFaContact          = "NM_A_FA_CONTACT"
	TagFaConversation     = "NM_A_FA_CONVERSATION"
	TagFaMessage          = "NM_A_FA_MESSAGE"
	TagFaContactList      = "NM_A_FA_CONTACT_LIST"
	TagFaResults          = "NM_A_FA_RESULTS"
	TagFaInfoDisplayArray = "NM_A_FA_INFO_DISPLAY_ARRAY"
	TagFaUserDetails      = "NM_A_FA_USER_DETAILS"
	TagSzObjectID         = "NM_A_SZ_OBJECT_ID"
	TagSzParentID         = "NM_A_SZ_PARENT_ID"
	TagSzSequenceNumber   = "NM_A_SZ_SEQUENCE_NUMBER"
	TagSzType             = "NM_A_SZ_TYPE"
	TagSzStatus           = "NM_A_SZ_STATUS"
	TagSzStatusText       = "NM_A_SZ_STATUS_TEXT"
	TagSzDN               = "NM_A_SZ_DN"
	TagSzDisplayName      = "NM_A_SZ_DISPLAY_NAME"
	TagSzUserID           = "NM_A_SZ_USERID"
	TagSzCredentials      = "NM_A_SZ_CREDENTIALS"
	TagSzMessageBody      = "NM_A_SZ_MESSAGE_BODY"
	TagSzMessageText      = "NM_A_SZ_MESSAGE_TEXT"
	TagUdMessageType      = "NM_A_UD_MESSAGE_TYPE"
	TagFaParticipants     = "NM_A_FA_PARTICIPANTS"
	TagFaInvites          = "NM_A_FA_INVITES"
	TagFaEvent            = "NM_A_FA_EVENT"
	TagUdCount            = "NM_A_UD_COUNT"
	TagUdDate             = "NM_A_UD_DATE"
	TagUdEvent            = "NM_A_UD_EVENT"
	TagBNoContacts        = "NM_A_B_NO_CONTACTS"
	TagBNoCustoms         = "NM_A_B_NO_CUSTOMS"
	TagBNoPrivacy         = "NM_A_B_NO_PRIVACY"
	TagUwStatus           = "NM_A_UW_STATUS"
	TagUdObjectID         = "NM_A_UD_OBJECT_ID"
	TagSzTransactionID    = "NM_A_SZ_TRANSACTION_ID"
	TagSzResultCode       = "NM_A_SZ_RESULT_CODE"
	TagUdBuild            = "NM_A_UD_BUILD"
	TagSzAuthAttribute    = "NM_A_SZ_AUTH_ATTRIBUTE"
	TagUdKeepalive        = "NM_A_UD_KEEPALIVE"
	TagSzUserAgent        = "NM_A_SZ_USER_AGENT"
	TagBlocking           = "nnmBlocking"
	TagBlockingDenyList   = "nnmBlockingDenyList"
	TagBlockingAllowList  = "nnmBlockingAllowList"
	TagSzBlockingAllow    = "NM_A_SZ_BLOCKING_ALLOW_ITEM"
	TagSzBlockingDeny     = "NM_A_SZ_BLOCKING_DENY_ITEM"
	TagLockedAttrList     = "nnmLockedAttrList"
)

// Directory attribute names used as tags inside user records (spec §2.8).
const (
	AttrCN              = "CN"
	AttrGivenName       = "Given Name"
	AttrSurname         = "Surname"
	AttrFullName        = "Full Name"
	AttrTelephoneNumber = "telephoneNumber"
	AttrLocation        = "L"
	AttrDepartment      = "OU"
	AttrPersonalTitle   = "personalTitle"
	AttrTitle           = "Title"
	AttrMailstop        = "mailstop"
	AttrEmail           = "Internet EMail Address"
)

// ProtocolVersion is the NM_A_UD_BUILD value libpurple sends in login.
const ProtocolVersion = 2

// BlankGUID is the placeholder conference id a client sends in createconf.
const BlankGUID = "[00000000-00000000-00000000-0000-0000]"

// GUIDCompareLen is how many leading characters of a conference GUID
// libpurple compares; GUIDs of different conferences must differ within them.
const GUIDCompareLen = 27

// Request commands (the word after "POST /", spec §4).
const (
	CmdLogin         = "login"
	CmdSetStatus     = "setstatus"
	CmdGetStatus     = "getstatus"
	CmdGetDetails    = "getdetails"
	CmdCreateConf    = "createconf"
	CmdSendMessage   = "sendmessage"
	CmdSendTyping    = "sendtyping"
	CmdJoinConf      = "joinconf"
	CmdLeaveConf     = "leaveconf"
	CmdRejectConf    = "rejectconf"
	CmdSendInvite    = "sendinvite"
	CmdCreateFolder  = "createfolder"
	CmdCreateContact = "createcontact"
	CmdDeleteContact = "deletecontact"
	CmdMoveContact   = "movecontact"
	CmdUpdateItem    = "updateitem"
	CmdCreateBlock   = "createblock"
	CmdUpdateBlocks  = "updateblocks"
	CmdPing          = "ping"
	CmdLogout        = "logout" // defined by the protocol, never sent by libpurple
)
