// dlib_face_recognition_resnet_model_v1 as a dlib network type, so dlib can read the file: the
// topology face-api ported (src/embed/recognition_net.cpp), in its inference form (batch norm
// folded into affine layers, which is how dlib reads the trained file). Shared by
// siamface-dlib-convert (dlib_convert.cpp), its tests (tests/unit/dlib_convert_test.cpp, the
// differential tests/integration/dlib_float_weights_test.cpp) and embed_speed_bench (dlib +
// OpenBLAS as the speed baseline).
#pragma once

#include <dlib/dnn.h>

namespace siamface::dlib_resnet {

template <template <int, template <typename> class, int, typename> class Block, int N,
          template <typename> class Norm, typename Subnet>
using residual = dlib::add_prev1<Block<N, Norm, 1, dlib::tag1<Subnet>>>;

template <template <int, template <typename> class, int, typename> class Block, int N,
          template <typename> class Norm, typename Subnet>
using residual_down =
    dlib::add_prev2<dlib::avg_pool<2, 2, 2, 2, dlib::skip1<dlib::tag2<Block<N, Norm, 2, dlib::tag1<Subnet>>>>>>;

template <int N, template <typename> class Norm, int Stride, typename Subnet>
using conv_pair = Norm<dlib::con<N, 3, 3, 1, 1, dlib::relu<Norm<dlib::con<N, 3, 3, Stride, Stride, Subnet>>>>>;

template <int N, typename Subnet>
using unit = dlib::relu<residual<conv_pair, N, dlib::affine, Subnet>>;
template <int N, typename Subnet>
using unit_down = dlib::relu<residual_down<conv_pair, N, dlib::affine, Subnet>>;

template <typename Subnet>
using level0 = unit_down<256, Subnet>;
template <typename Subnet>
using level1 = unit<256, unit<256, unit_down<256, Subnet>>>;
template <typename Subnet>
using level2 = unit<128, unit<128, unit_down<128, Subnet>>>;
template <typename Subnet>
using level3 = unit<64, unit<64, unit<64, unit_down<64, Subnet>>>>;
template <typename Subnet>
using level4 = unit<32, unit<32, unit<32, Subnet>>>;

}  // namespace siamface::dlib_resnet

namespace siamface {

using dlib_face_resnet = dlib::loss_metric<dlib::fc_no_bias<
    128, dlib::avg_pool_everything<dlib_resnet::level0<dlib_resnet::level1<dlib_resnet::level2<
             dlib_resnet::level3<dlib_resnet::level4<dlib::max_pool<3, 3, 2, 2, dlib::relu<dlib::affine<dlib::con<
                 32, 7, 7, 2, 2, dlib::input_rgb_image_sized<150>>>>>>>>>>>>>;

}  // namespace siamface
