package stproto

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReasonError(t *testing.T) {
	err := fmt.Errorf("login: %w", ReasonIncorrectLogin)
	if !errors.Is(err, ReasonIncorrectLogin) || errors.Is(err, ReasonUserRestricted) {
		t.Fatal("errors.Is does not match reason codes")
	}
	var r ReasonError
	if !errors.As(err, &r) || r != 0x80000211 {
		t.Fatalf("errors.As = %#x", uint32(r))
	}
	if got := ReasonIncorrectLogin.Error(); !strings.Contains(got, "Incorrect Username/Password") || !strings.Contains(got, "0x80000211") {
		t.Fatalf("Error() = %q", got)
	}
	if got := ReasonError(0x80001234).Error(); !strings.Contains(got, "0x80001234") {
		t.Fatalf("unknown code text %q", got)
	}
	cases := []struct {
		r             ReasonError
		failure, auth bool
	}{
		{ReasonSuccess, false, false},
		{ReasonFileTransferRejected, false, false}, // 0x08000606 has no error bit
		{ReasonIncorrectLogin, true, true},
		{ReasonGuestInUse, true, true},
		{ReasonEncryptMismatch, true, false},
		{ReasonUserNotOnline, true, false},
	}
	for _, c := range cases {
		if c.r.IsFailure() != c.failure || c.r.IsAuthFailure() != c.auth {
			t.Errorf("%#x: IsFailure=%v IsAuthFailure=%v", uint32(c.r), c.r.IsFailure(), c.r.IsAuthFailure())
		}
	}
}

func TestNames(t *testing.T) {
	if TypeChannelCreate.String() != "CHANNEL_CREATE" || MessageType(0x7777).String() != "MessageType(0x7777)" {
		t.Fatal("MessageType.String")
	}
	if ServiceFileTransfer.String() != "file-transfer" || ServiceID(0x99).String() != "ServiceID(0x00000099)" {
		t.Fatal("ServiceID.String")
	}
	if AuthRC2_128.String() != "RC2/128" || AuthType(9).String() != "AuthType(0x0009)" {
		t.Fatal("AuthType.String")
	}
	for _, s := range []ServiceID{ServiceAware, ServiceResolve, ServiceStorage, ServiceFileTransfer, ServiceIM, ServiceConference} {
		if _, ok := ProtocolOf(s); !ok {
			t.Errorf("no channel protocol for %s", s)
		}
	}
}
