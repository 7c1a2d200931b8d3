package reconciliation

import (
	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/internal/foundation/problem"
)

// POST /statements/{id}/commit: load a file held for a preview.
func (h *Handler) commit(c *fiber.Ctx) error {
	id, err := pathID(c, ErrFileNotFound)
	if err != nil {
		return err
	}
	f, err := h.svc.Commit(c.UserContext(), id, auth.FromCtx(c).Actor())
	if err != nil {
		return err
	}
	return c.JSON(f)
}

// GET /statements/{id}/entries?cursor=&limit=&flagged=true: a loaded bank
// file's entries with everything the bank said of them.
func (h *Handler) fileEntries(c *fiber.Ctx) error {
	id, err := pathID(c, ErrFileNotFound)
	if err != nil {
		return err
	}
	var f EntryFilter
	if f.Limit, err = pageLimit(c); err != nil {
		return err
	}
	if f.After, err = queryInt(c, "cursor"); err != nil {
		return err
	}
	switch c.Query("flagged") {
	case "", "false":
	case "true":
		f.Flagged = true
	default:
		return problem.Invalid("query.flagged", "true or false")
	}
	want := f
	want.Limit++
	entries, err := h.svc.FileEntries(c.UserContext(), id, want)
	if err != nil {
		return err
	}
	return c.JSON(newPage(entries, f.Limit, EntryCursor))
}

// GET /reconciliation/positions?date=YYYY-MM-DD: each account's position
// during the day from its latest camt.052 intraday report.
func (h *Handler) positions(c *fiber.Ctx) error {
	day, err := ParseDay(c.Query("date"))
	if err != nil {
		return problem.Invalid("query.date", "a business day, YYYY-MM-DD, from 2000 to 8999")
	}
	list, err := h.svc.IntradayPositions(c.UserContext(), day)
	if err != nil {
		return err
	}
	if list == nil {
		list = []Position{}
	}
	return c.JSON(fiber.Map{"date": dayString(day), "positions": list})
}
