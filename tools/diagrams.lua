-- diagrams.lua: a pandoc filter that puts each diagram into the slide.
--
-- A deck line <!-- diagram: NAME --> becomes the SVG that tools/diagrams
-- rendered for the deck's language, DIR/NAME.svg, inline in a
-- <figure class="diagram">: the page stays one file that needs nothing
-- else.  DIR is the environment variable SLIDES_DIAGRAMS (tools/slides
-- sets it).  A diagram that was not rendered stops pandoc with an error.

local dir = os.getenv("SLIDES_DIAGRAMS")

function RawBlock(el)
  if el.format ~= "html" then
    return nil
  end
  local name = el.text:match("^<!%-%-%s*diagram:%s*([%w_-]+)%s*%-%->%s*$")
  if not name then
    return nil
  end
  if not dir then
    error("diagrams.lua: SLIDES_DIAGRAMS is not set (render with tools/slides)")
  end
  local path = dir .. "/" .. name .. ".svg"
  local file = io.open(path, "r")
  if not file then
    error("diagrams.lua: no " .. path .. " for <!-- diagram: " .. name .. " --> (tools/diagrams renders it)")
  end
  local svg = file:read("a")
  file:close()
  return pandoc.RawBlock("html",
    '<figure class="diagram" id="diagram-' .. name .. '" data-diagram="' .. name .. '">\n' ..
    svg .. '</figure>')
end
