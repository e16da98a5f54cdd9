package stproto

// ResolveMsgType is the CHANNEL_SEND type of resolve requests and
// responses (spec §5.3).
const ResolveMsgType uint16 = 0x0002

// Resolve request flags.
const (
	ResolveUnique        uint32 = 0x01
	ResolveFirst         uint32 = 0x02
	ResolveAllDirs       uint32 = 0x04
	ResolveCheckUsers    uint32 = 0x08
	ResolveCheckGroups   uint32 = 0x10
	ResolveCodeSuccess   uint32 = 0x00000000
	ResolveCodePartial   uint32 = 0x00010000
	ResolveCodeMultiple  uint32 = 0x80020000
	ResolveCodeBadFormat uint32 = 0x80030000
)

// Resolve match types.
const (
	ResolveMatchUser  uint32 = 1
	ResolveMatchGroup uint32 = 2
)

// ResolveRequest asks the server to look names up.
type ResolveRequest struct {
	SearchID uint32
	Queries  []string
	Flags    uint32
}

// Marshal encodes u32 0, u32 search_id, u32 count, queries, u32 flags.
func (r ResolveRequest) Marshal() ([]byte, error) {
	return encodeWith("resolve request", func(e *Encoder) {
		e.U32(0)
		e.U32(r.SearchID)
		e.U32(uint32(len(r.Queries)))
		for _, q := range r.Queries {
			e.String(q)
		}
		e.U32(r.Flags)
	})
}

// UnmarshalResolveRequest decodes a resolve request.
func UnmarshalResolveRequest(b []byte) (ResolveRequest, error) {
	return decodeWith("resolve request", b, func(d *Decoder) ResolveRequest {
		var r ResolveRequest
		d.U32("reserved")
		r.SearchID = d.U32("search_id")
		n := d.Count("count", 2)
		if n > 0 {
			r.Queries = make([]string, 0, n)
		}
		for i := 0; i < n && d.Err() == nil; i++ {
			r.Queries = append(r.Queries, d.String("query"))
		}
		r.Flags = d.U32("flags")
		return r
	})
}

// ResolveMatch is one candidate for a query.
type ResolveMatch struct {
	ID          string
	Name        string
	Description string
	Type        uint32 // ResolveMatchUser or ResolveMatchGroup
}

// ResolveResult holds the matches of one query.
type ResolveResult struct {
	Code    uint32
	Query   string
	Matches []ResolveMatch
}

// ResolveResponse answers a ResolveRequest with the same SearchID.
type ResolveResponse struct {
	SearchID uint32
	Code     uint32
	Results  []ResolveResult
}

// Marshal encodes the response.
func (r ResolveResponse) Marshal() ([]byte, error) {
	return encodeWith("resolve response", func(e *Encoder) {
		e.U32(0)
		e.U32(r.SearchID)
		e.U32(r.Code)
		e.U32(uint32(len(r.Results)))
		for _, res := range r.Results {
			e.U32(0)
			e.U32(res.Code)
			e.String(res.Query)
			e.U32(uint32(len(res.Matches)))
			for _, m := range res.Matches {
				e.String(m.ID)
				e.String(m.Name)
				e.String(m.Description)
				e.U32(m.Type)
			}
		}
	})
}

// UnmarshalResolveResponse decodes a resolve response.
func UnmarshalResolveResponse(b []byte) (ResolveResponse, error) {
	return decodeWith("resolve response", b, func(d *Decoder) ResolveResponse {
		var r ResolveResponse
		d.U32("reserved")
		r.SearchID = d.U32("search_id")
		r.Code = d.U32("code")
		n := d.Count("count", 14)
		if n > 0 {
			r.Results = make([]ResolveResult, 0, n)
		}
		for i := 0; i < n && d.Err() == nil; i++ {
			var res ResolveResult
			d.U32("result.reserved")
			res.Code = d.U32("result.code")
			res.Query = d.String("result.query")
			m := d.Count("result.match_count", 10)
			if m > 0 {
				res.Matches = make([]ResolveMatch, 0, m)
			}
			for j := 0; j < m && d.Err() == nil; j++ {
				res.Matches = append(res.Matches, ResolveMatch{
					ID:          d.String("match.id"),
					Name:        d.String("match.name"),
					Description: d.String("match.description"),
					Type:        d.U32("match.type"),
				})
			}
			r.Results = append(r.Results, res)
		}
		return r
	})
}
