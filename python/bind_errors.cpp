// siamface.Error: every siamface::Error crossing into Python, with .kind naming the ErrorCode.
#include <pybind11/pybind11.h>

#include <exception>
#include <string>

#include "bind_common.hpp"
#include "siamface/errors.hpp"

namespace siamface::python {

void bind_errors(py::module_& m) {
  // One boundary for errors: siamface::Error -> siamface.Error(message) with .kind ("no_face", ...).
  // The type lives as long as the process: a static py::object would be released after the
  // interpreter is gone.
  static const py::handle error_type = py::exception<Error>(m, "Error", PyExc_Exception).release();
  error_type.attr("__doc__") = "Raised by siamface; .kind names the error (invalid_image, no_face, model_missing, ...)";
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const Error& e) {
      // Messages quote file names, which need not be UTF-8.
      const std::string message = e.what();
      const auto text = py::reinterpret_steal<py::object>(
          PyUnicode_DecodeUTF8(message.data(), static_cast<py::ssize_t>(message.size()), "replace"));
      py::object instance = error_type(text);
      instance.attr("kind") = siamface::to_string(e.code());
      PyErr_SetObject(error_type.ptr(), instance.ptr());
    }
  });
}

}  // namespace siamface::python
