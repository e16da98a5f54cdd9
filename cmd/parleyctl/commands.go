package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/parleygw/parley/core/admin"
)

// commands in the order the usage lists them.
var commands = []*command{
	{"user add", "<id> -backend B [-login L] [-group G] [-name N] [-disabled]", "add a user", cmdUserAdd},
	{"user enable", "<id>", "let a user log in", cmdUserEnable},
	{"user disable", "<id>", "stop a user from logging in; ends the user's live sessions", cmdUserDisable},
	{"user delete", "<id>", "remove a user; ends the user's live sessions", cmdUserDelete},
	{"user list", "", "list users", cmdUserList},
	{"user show", "<id>", "show one user", cmdUserShow},
	{"user set-group", "<id> <group>", `move a user to a group ("" for none)`, cmdUserSetGroup},
	{"group add", "<name> [-description D]", "add a group", cmdGroupAdd},
	{"group delete", "<name>", "remove a group that has no users", cmdGroupDelete},
	{"group list", "", "list groups", cmdGroupList},
	{"policy set", "<group> [-max-size 10MB] [-block exe,bat | -block '*'] [-file-transfer on|off] [-optimize on|off]",
		"change a group's file transfer policy (unset flags keep their value)", cmdPolicySet},
	{"policy show", "<group> | -user <id>", "show a group's policy, or the one that applies to a user", cmdPolicyShow},
	{"policy list", "", "list the groups' own policies and the default one", cmdPolicyList},
	{"policy delete", "<group>", "drop a group's own policy; its users get the default one", cmdPolicyDelete},
	{"sessions list", "[-user U]", "list live sessions", cmdSessionsList},
	{"sessions kick", "<user>", "end every live session of a user", cmdSessionsKick},
	{"plugins list", "", "list backend plugins and their state", cmdPluginsList},
	{"plugins reload", "", "rescan the plugin directory, restart changed or failed plugins", cmdPluginsReload},
	{"audit", "[-n 50] [-target T] [-before ID]", "list recent admin changes, newest first", cmdAudit},
	{"transfers", "[-n 50] [-user U] [-outcome O] [-before ID]", "list file transfers that ended (delivered, refused, ...), newest first",
		cmdTransfers},
	{"health", "", "check the daemon and show counts", cmdHealth},
}

// oneArg is the shape of the many commands that take one name and no
// flags of their own.
func oneArg(c *cli, cmd *command, args []string) (*admin.Client, string, error) {
	pos, err := c.parse(c.flags(cmd), cmd, args, 1)
	if err != nil {
		return nil, "", err
	}
	cl, err := c.client()
	return cl, pos[0], err
}

func noArgs(c *cli, cmd *command, args []string) (*admin.Client, error) {
	if _, err := c.parse(c.flags(cmd), cmd, args, 0); err != nil {
		return nil, err
	}
	return c.client()
}

func cmdUserAdd(ctx context.Context, c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	var u admin.NewUser
	fs.StringVar(&u.Backend, "backend", "", "backend the user logs in to (required), e.g. groupwise")
	fs.StringVar(&u.BackendLogin, "login", "", "the user's login name on the IM server (default: the id)")
	fs.StringVar(&u.Group, "group", "", "the user's group")
	fs.StringVar(&u.DisplayName, "name", "", "display name, for listings")
	disabled := fs.Bool("disabled", false, "add the user disabled")
	pos, err := c.parse(fs, cmd, args, 1)
	if err != nil {
		return err
	}
	if u.Backend == "" {
		return &usageError{cmd: cmd, msg: "-backend is required"}
	}
	u.ID = pos[0]
	enabled := !*disabled
	u.Enabled = &enabled
	cl, err := c.client()
	if err != nil {
		return err
	}
	added, err := cl.AddUser(ctx, u)
	if err != nil {
		return err
	}
	return c.output(added, func() {
		fmt.Fprintf(c.stdout, "added user %s\n", added.ID)
		c.showUser(added)
	})
}

func cmdUserEnable(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, id, err := oneArg(c, cmd, args)
	if err != nil {
		return err
	}
	ch, err := cl.EnableUser(ctx, id)
	if err != nil {
		return err
	}
	return c.output(ch, func() { fmt.Fprintf(c.stdout, "enabled %s\n", userName(ch, id)) })
}

func cmdUserDisable(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, id, err := oneArg(c, cmd, args)
	if err != nil {
		return err
	}
	ch, err := cl.DisableUser(ctx, id)
	if err != nil {
		return err
	}
	return c.output(ch, func() {
		fmt.Fprintf(c.stdout, "disabled %s; %s\n", userName(ch, id), endedSessions(ch.Kicked))
	})
}

func cmdUserDelete(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, id, err := oneArg(c, cmd, args)
	if err != nil {
		return err
	}
	ch, err := cl.DeleteUser(ctx, id)
	if err != nil {
		return err
	}
	return c.output(ch, func() {
		fmt.Fprintf(c.stdout, "deleted %s; %s\n", ch.Deleted, endedSessions(ch.Kicked))
	})
}

func userName(ch admin.UserChange, fallback string) string {
	if ch.User != nil {
		return ch.User.ID
	}
	return fallback
}

func endedSessions(n int) string {
	switch n {
	case 0:
		return "no live sessions"
	case 1:
		return "ended 1 live session"
	}
	return fmt.Sprintf("ended %d live sessions", n)
}

func cmdUserList(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, err := noArgs(c, cmd, args)
	if err != nil {
		return err
	}
	list, err := cl.Users(ctx)
	if err != nil {
		return err
	}
	return c.output(list, func() {
		t := c.table("ID", "ENABLED", "BACKEND", "BACKEND LOGIN", "GROUP", "NAME")
		for _, u := range list.Users {
			t.row(u.ID, yesNo(u.Enabled), u.Backend, u.BackendLogin, orDash(u.Group), u.DisplayName)
		}
		t.flush("no users")
	})
}

func cmdUserShow(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, id, err := oneArg(c, cmd, args)
	if err != nil {
		return err
	}
	u, err := cl.User(ctx, id)
	if err != nil {
		return err
	}
	return c.output(u, func() { c.showUser(u) })
}

func (c *cli) showUser(u admin.User) {
	c.fields(
		"id", u.ID,
		"enabled", yesNo(u.Enabled),
		"backend", u.Backend,
		"backend login", u.BackendLogin,
		"group", orDash(u.Group),
		"display name", orDash(u.DisplayName),
		"created", formatTime(u.CreatedAt),
		"updated", formatTime(u.UpdatedAt),
	)
}

func cmdUserSetGroup(ctx context.Context, c *cli, cmd *command, args []string) error {
	pos, err := c.parse(c.flags(cmd), cmd, args, 2)
	if err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	ch, err := cl.SetUserGroup(ctx, pos[0], pos[1])
	if err != nil {
		return err
	}
	return c.output(ch, func() {
		if pos[1] == "" {
			fmt.Fprintf(c.stdout, "%s is in no group now\n", userName(ch, pos[0]))
			return
		}
		group := pos[1]
		if ch.User != nil {
			group = ch.User.Group
		}
		fmt.Fprintf(c.stdout, "%s is in group %s now\n", userName(ch, pos[0]), group)
	})
}

func cmdGroupAdd(ctx context.Context, c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	var g admin.NewGroup
	fs.StringVar(&g.Description, "description", "", "what the group is for")
	pos, err := c.parse(fs, cmd, args, 1)
	if err != nil {
		return err
	}
	g.Name = pos[0]
	cl, err := c.client()
	if err != nil {
		return err
	}
	added, err := cl.AddGroup(ctx, g)
	if err != nil {
		return err
	}
	return c.output(added, func() { fmt.Fprintf(c.stdout, "added group %s\n", added.Name) })
}

func cmdGroupDelete(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, name, err := oneArg(c, cmd, args)
	if err != nil {
		return err
	}
	d, err := cl.DeleteGroup(ctx, name)
	if err != nil {
		return err
	}
	return c.output(d, func() { fmt.Fprintf(c.stdout, "deleted group %s\n", d.Deleted) })
}

func cmdGroupList(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, err := noArgs(c, cmd, args)
	if err != nil {
		return err
	}
	list, err := cl.Groups(ctx)
	if err != nil {
		return err
	}
	return c.output(list, func() {
		t := c.table("NAME", "USERS", "POLICY", "DESCRIPTION")
		for _, g := range list.Groups {
			policy := admin.SourceDefault
			if g.HasPolicy {
				policy = "own"
			}
			t.row(g.Name, strconv.Itoa(g.Users), policy, g.Description)
		}
		t.flush("no groups")
	})
}

func cmdPolicySet(ctx context.Context, c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	var (
		size               sizeFlag
		block              optString
		transfer, optimize onOff
	)
	fs.Var(&size, "max-size", "largest file the gateway passes, e.g. 10MB, 512KB, 1048576; 0 for no gateway limit")
	fs.Var(&block, "block", `blocked file extensions, comma-separated ("exe,bat"); '*' blocks every file, "" none`)
	fs.Var(&transfer, "file-transfer", "allow file transfer at all: on or off")
	fs.Var(&optimize, "optimize", "let recipients ask for files optimised for their device: on or off")
	pos, err := c.parse(fs, cmd, args, 1)
	if err != nil {
		return err
	}
	var ch admin.PolicyChange
	if size.set {
		ch.MaxFileBytes = &size.n
	}
	if block.set {
		ch.BlockedExtensions = admin.SplitExtensions(block.val)
	}
	if transfer.set {
		ch.FileTransfer = &transfer.on
	}
	if optimize.set {
		ch.OptimizeAllowed = &optimize.on
	}
	if !size.set && !block.set && !transfer.set && !optimize.set {
		return &usageError{cmd: cmd, msg: "nothing to set: give at least one of -max-size, -block, -file-transfer, -optimize"}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	p, err := cl.SetPolicy(ctx, pos[0], ch)
	if err != nil {
		return err
	}
	return c.output(p, func() { c.fields(policyFields(p)...) })
}

func cmdPolicyShow(ctx context.Context, c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	user := fs.String("user", "", "show the policy that applies to this user")
	pos, err := c.parse(fs, cmd, args, -1)
	if err != nil {
		return err
	}
	switch {
	case *user == "" && len(pos) == 0:
		return &usageError{cmd: cmd, msg: "name a group, or a user with -user"}
	case *user != "" && len(pos) > 0:
		return &usageError{cmd: cmd, msg: "a group or -user, not both"}
	case len(pos) > 1:
		return &usageError{cmd: cmd, msg: fmt.Sprintf("unexpected argument %q", pos[1])}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if *user != "" {
		up, err := cl.UserPolicy(ctx, *user)
		if err != nil {
			return err
		}
		return c.output(up, func() { c.fields(append([]string{"user", up.User}, policyFields(up.Policy)...)...) })
	}
	p, err := cl.GroupPolicy(ctx, pos[0])
	if err != nil {
		return err
	}
	return c.output(p, func() { c.fields(policyFields(p)...) })
}

// policyFields are the name-value pairs that show a policy.
func policyFields(p admin.Policy) []string {
	source := "the group's own policy"
	if p.Source == admin.SourceDefault {
		source = "the default policy (from parleyd's configuration)"
	}
	updated := "-"
	if p.UpdatedAt != nil {
		updated = formatTime(*p.UpdatedAt)
	}
	return []string{
		"group", orDash(p.Group),
		"source", source,
		"file transfer", onOffText(p.FileTransfer),
		"max file size", maxSizeText(p.MaxFileBytes),
		"blocked", blockedText(p.BlockedExtensions),
		"optimize", onOffText(p.OptimizeAllowed),
		"updated", updated,
	}
}

func cmdPolicyList(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, err := noArgs(c, cmd, args)
	if err != nil {
		return err
	}
	list, err := cl.Policies(ctx)
	if err != nil {
		return err
	}
	return c.output(list, func() {
		t := c.table("GROUP", "FILE TRANSFER", "MAX SIZE", "BLOCKED", "OPTIMIZE")
		for _, p := range append(list.Policies, list.Default) {
			group := p.Group
			if p.Source == admin.SourceDefault {
				group = "(default)"
			}
			t.row(group, onOffText(p.FileTransfer), maxSizeText(p.MaxFileBytes), blockedText(p.BlockedExtensions), onOffText(p.OptimizeAllowed))
		}
		t.flush("")
	})
}

func cmdPolicyDelete(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, name, err := oneArg(c, cmd, args)
	if err != nil {
		return err
	}
	p, err := cl.DeletePolicy(ctx, name)
	if err != nil {
		return err
	}
	return c.output(p, func() {
		fmt.Fprintf(c.stdout, "group %s has no policy of its own now; its users get the default one\n", p.Group)
	})
}

func cmdSessionsList(ctx context.Context, c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	user := fs.String("user", "", "only this user's sessions")
	if _, err := c.parse(fs, cmd, args, 0); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	list, err := cl.Sessions(ctx, *user)
	if err != nil {
		return err
	}
	return c.output(list, func() {
		t := c.table("USER", "BACKEND", "BACKEND LOGIN", "SESSION", "DEVICES", "PENDING")
		for _, s := range list.Sessions {
			t.row(s.User, s.Backend, s.Login, s.ID, fmt.Sprintf("%d/%d attached", s.DevicesAttached, s.DevicesTotal),
				strconv.Itoa(s.PendingEvents))
		}
		t.flush("no live sessions")
	})
}

func cmdSessionsKick(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, user, err := oneArg(c, cmd, args)
	if err != nil {
		return err
	}
	k, err := cl.KickUser(ctx, user)
	if err != nil {
		return err
	}
	return c.output(k, func() { fmt.Fprintf(c.stdout, "%s: %s\n", k.User, endedSessions(k.Kicked)) })
}

func cmdPluginsList(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, err := noArgs(c, cmd, args)
	if err != nil {
		return err
	}
	list, err := cl.Plugins(ctx)
	if err != nil {
		return err
	}
	return c.output(list, func() { c.pluginTable(list) })
}

func cmdPluginsReload(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, err := noArgs(c, cmd, args)
	if err != nil {
		return err
	}
	list, err := cl.ReloadPlugins(ctx)
	if err != nil {
		return err
	}
	return c.output(list, func() {
		fmt.Fprintln(c.stdout, "reloaded plugins")
		c.pluginTable(list)
	})
}

func (c *cli) pluginTable(list admin.PluginList) {
	t := c.table("BACKEND", "PLUGIN", "VERSION", "STATE", "SINCE", "PID", "RESTARTS", "LAST ERROR")
	for _, p := range list.Plugins {
		pid := "-"
		if p.PID != 0 {
			pid = strconv.Itoa(p.PID)
		}
		t.row(p.Backend, p.Name, p.Version, p.State, formatTime(p.Since), pid, strconv.Itoa(p.Restarts), p.LastError)
	}
	t.flush("no plugins")
}

func cmdAudit(ctx context.Context, c *cli, cmd *command, args []string) error {
	fs := c.flags(cmd)
	var q admin.AuditQuery
	fs.IntVar(&q.Limit, "n", 50, "how many entries, 1 to 1000")
	fs.StringVar(&q.Target, "target", "", "only changes to this user or group")
	fs.Int64Var(&q.BeforeID, "before", 0, "only entries older than this id (to page back)")
	if _, err := c.parse(fs, cmd, args, 0); err != nil {
		return err
	}
	if q.Limit < 1 || q.Limit > 1000 {
		return &usageError{cmd: cmd, msg: fmt.Sprintf("-n %d: want 1 to 1000", q.Limit)}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	list, err := cl.Audit(ctx, q)
	if err != nil {
		return err
	}
	return c.output(list, func() {
		t := c.table("ID", "TIME", "ACTOR", "ACTION", "TARGET", "DETAILS")
		for _, e := range list.Entries {
			t.row(strconv.FormatInt(e.ID, 10), formatTime(e.At), e.Actor, e.Action, e.Target, string(e.Details))
		}
		t.flush("no audit entries")
	})
}

func cmdHealth(ctx context.Context, c *cli, cmd *command, args []string) error {
	cl, err := noArgs(c, cmd, args)
	if err != nil {
		return err
	}
	h, err := cl.Health(ctx)
	if err != nil {
		return err
	}
	return c.output(h, func() {
		c.fields(
			"status", h.Status,
			"users", fmt.Sprintf("%d (%d enabled)", h.Users, h.UsersEnabled),
			"groups", strconv.Itoa(h.Groups),
			"sessions", fmt.Sprintf("%d (%d devices attached)", h.Sessions, h.DevicesAttached),
			"plugins", fmt.Sprintf("%d (%d up)", h.Plugins, h.PluginsUp),
		)
	})
}
